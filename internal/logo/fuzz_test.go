package logo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzSanitizeSVG: whatever is accepted comes out as an SVG of allowed
// elements and attributes only, with no handler and no reference outside
// the image, and is accepted again unchanged.
func FuzzSanitizeSVG(f *testing.F) {
	for _, seed := range []string{
		svgOpen + `<rect width="10" height="10" fill="url(#g)"/></svg>`,
		svgOpen + `<style>.a{fill:red}</style><g class="a"><path d="M0 0L10 10"/></g></svg>`,
		svgOpen + `<use href="#a"/><metadata><x:y xmlns:x="urn:x"/></metadata></svg>`,
		svgOpen + `<text>A &amp; B</text><![CDATA[<script>]]></svg>`,
		`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="#b"/></svg>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := SanitizeSVG(data)
		if err != nil {
			return
		}
		dec := xml.NewDecoder(bytes.NewReader(out))
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("the output does not parse: %v\n%s", err, out)
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			if start.Name.Space != svgNS || !elements[start.Name.Local] {
				t.Fatalf("the output has <%s %s>:\n%s", start.Name.Local, start.Name.Space, out)
			}
			for _, a := range start.Attr {
				lower := strings.ToLower(a.Value)
				switch {
				case a.Name.Local == "xmlns" && a.Value == svgNS:
				case a.Name.Space != "" || !attributes[a.Name.Local] || strings.HasPrefix(strings.ToLower(a.Name.Local), "on"):
					t.Fatalf("the output has the attribute %v:\n%s", a.Name, out)
				case a.Name.Local == "href" && !strings.HasPrefix(strings.TrimSpace(a.Value), "#"),
					strings.Contains(lower, "javascript:"):
					t.Fatalf("the output refers outside the image: %s=%q", a.Name.Local, a.Value)
				}
			}
		}
		again, err := SanitizeSVG(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("the output is not accepted unchanged (%v):\n%s\n%s", err, out, again)
		}
	})
}
