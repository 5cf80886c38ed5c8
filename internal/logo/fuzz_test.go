package logo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

// FuzzSanitizeSVG: whatever is accepted comes out as an SVG of allowed
// elements and attributes only, each written once, with no handler, no
// reference outside the image and no CSS that could load anything, and
// is accepted again unchanged. The seeds in testdata/fuzz include style
// sheets split by comments, CDATA and processing instructions.
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
		if err := checkOutput(out); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		again, err := SanitizeSVG(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("the output is not accepted unchanged (%v):\n%s\n%s", err, out, again)
		}
	})
}

// cssCall finds the functions CSS text calls.
var cssCall = regexp.MustCompile(`([a-z0-9_-]+)\(`)

// checkOutput is the fuzz test's oracle, written apart from the code it
// checks: what it says of a sanitised SVG holds for what a browser reads.
func checkOutput(out []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(out))
	dec.Strict = true
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("the output does not parse: %v", err)
		}
		inStyle := len(stack) > 0 && stack[len(stack)-1] == "style"
		switch t := tok.(type) {
		case xml.StartElement:
			if inStyle {
				return fmt.Errorf("the output has <%s> inside a style element", t.Name.Local)
			}
			if t.Name.Space != svgNS || !elements[t.Name.Local] {
				return fmt.Errorf("the output has <%s %s>", t.Name.Local, t.Name.Space)
			}
			stack = append(stack, t.Name.Local)
			seen := map[string]bool{}
			for _, a := range t.Attr {
				if seen[a.Name.Local] {
					return fmt.Errorf("the output has the attribute %s twice", a.Name.Local)
				}
				seen[a.Name.Local] = true
				switch {
				case a.Name.Local == "xmlns" && a.Value == svgNS:
				case a.Name.Space != "" || !attributes[a.Name.Local] || strings.HasPrefix(strings.ToLower(a.Name.Local), "on"):
					return fmt.Errorf("the output has the attribute %v", a.Name)
				case a.Name.Local == "href" && !strings.HasPrefix(strings.Trim(a.Value, " \t\n\r\f"), "#"):
					return fmt.Errorf("the output refers outside the image: %s=%q", a.Name.Local, a.Value)
				}
				// Of the attributes, the style and the presentation
				// attributes are CSS to a browser.
				if a.Name.Local != "style" && !cssProperties[a.Name.Local] {
					continue
				}
				if err := checkOutputCSS(a.Value); err != nil {
					return fmt.Errorf("the attribute %s: %v", a.Name.Local, err)
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if inStyle {
				if err := checkOutputCSS(string(t)); err != nil {
					return fmt.Errorf("the style element: %v", err)
				}
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
			return fmt.Errorf("the output has %T", t)
		}
	}
}

func checkOutputCSS(v string) error {
	lower := strings.ToLower(v)
	for _, bad := range []string{"javascript:", "data:", "@", "\\", "/*", "expression"} {
		if strings.Contains(lower, bad) {
			return fmt.Errorf("%q has %q", v, bad)
		}
	}
	for _, m := range cssCall.FindAllStringSubmatchIndex(lower, -1) {
		switch fn := lower[m[2]:m[3]]; fn {
		case "url":
			if !strings.HasPrefix(strings.TrimSpace(lower[m[1]:]), "#") {
				return fmt.Errorf("%q has url() to outside the image", v)
			}
		case "rgb", "rgba", "hsl", "hsla", "matrix", "translate", "translatex", "translatey",
			"scale", "scalex", "scaley", "rotate", "skewx", "skewy":
		default:
			return fmt.Errorf("%q calls %s()", v, fn)
		}
	}
	return nil
}
