package logo

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
)

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 0x1f, G: 0x5f, B: 0xbf, A: 0xff})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const svgOpen = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">`

func TestCheckRefuses(t *testing.T) {
	good := pngOf(t, 40, 20)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"an empty file", nil, "empty"},
		{"a file over the limit", append([]byte(svgOpen), bytes.Repeat([]byte(" "), MaxBytes)...), "at most 256 KiB"},
		{"a JPEG", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "neither a PNG nor an SVG"},
		{"plain text", []byte("hello"), "neither a PNG nor an SVG"},
		{"HTML", []byte("<html><body><script>alert(1)</script></body></html>"), "neither a PNG nor an SVG"},
		{"SVG without its namespace", []byte(`<svg viewBox="0 0 1 1"><rect/></svg>`), "neither a PNG nor an SVG"},
		{"a PNG cut short", good[:len(good)-20], "not a readable PNG"},
		{"a PNG with a broken header", append(append([]byte{}, pngSignature...), "garbage"...), "not a readable PNG"},
		{"a PNG too wide", pngOf(t, MaxSide+1, 10), "at most 1024×1024"},
		{"a PNG too tall", pngOf(t, 10, MaxSide+1), "at most 1024×1024"},
		{"a script", []byte(svgOpen + `<script>alert(1)</script></svg>`), "a script (<script>)"},
		{"a script of XHTML", []byte(svgOpen + `<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>`), "a script (<script>)"},
		{"a script inside an element left out", []byte(svgOpen + `<metadata><script>alert(1)</script></metadata></svg>`), "a script"},
		{"an onload handler", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "event handler (onload)"},
		{"an onclick handler in capitals", []byte(svgOpen + `<rect OnClick="alert(1)"/></svg>`), "event handler (OnClick)"},
		{"foreignObject", []byte(svgOpen + `<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject></svg>`), "foreignObject"},
		{"an external href", []byte(svgOpen + `<use href="https://evil.example/x.svg#a"/></svg>`), "outside the image"},
		{"an external xlink:href", []byte(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="other.svg#a"/></svg>`), "outside the image"},
		{"a javascript: href", []byte(svgOpen + `<use href="javascript:alert(1)"/></svg>`), "outside the image"},
		{"an embedded image", []byte(svgOpen + `<image href="#x"/></svg>`), "an embedded image"},
		{"a link", []byte(svgOpen + `<a href="#x"><rect/></a></svg>`), "a link"},
		{"an animation that could set a link", []byte(svgOpen + `<rect><set attributeName="fill" to="red"/></rect></svg>`), "an animation"},
		{"a fill from another site", []byte(svgOpen + `<rect fill="url(https://evil.example/p.svg#g)"/></svg>`), "url()"},
		{"a style attribute with url()", []byte(svgOpen + `<rect style="fill: url( 'http://evil.example/a' )"/></svg>`), "url()"},
		{"a style element with @import", []byte(svgOpen + `<style>@import "https://evil.example/a.css";</style></svg>`), "@import"},
		{"a style element with url()", []byte(svgOpen + `<style>rect { background: url(https://evil.example/t) }</style></svg>`), "url()"},
		{"CSS escapes", []byte(svgOpen + `<style>rect { background: \75rl(x) }</style></svg>`), `"\\"`},
		// The text of a style element is checked whole: a comment, a
		// processing instruction or a CDATA section splits it into parts
		// that each look harmless and that the output joins again.
		{"@import split by a comment", []byte(svgOpen + `<style>@imp<!---->ort "https://evil.example/a.css";</style></svg>`), "@imp"},
		{"url( split by a comment", []byte(svgOpen + `<style>rect { fill: ur<!---->l(https://evil.example/t) }</style></svg>`), "url()"},
		{"url( split by a processing instruction", []byte(svgOpen + `<style>rect { fill: ur<?x y?>l(https://evil.example/t) }</style></svg>`), "url()"},
		{"@import split by CDATA", []byte(svgOpen + `<style>@imp<![CDATA[ort]]> "https://evil.example/a.css";</style></svg>`), "@imp"},
		{"url( split by an element", []byte(svgOpen + `<style>rect { fill: ur<g/>l(https://evil.example/t) }</style></svg>`), "holds another element"},
		{"image-set() in a style element", []byte(svgOpen + `<style>rect { fill: image-set("https://evil.example/t.png" 1x) }</style></svg>`), "image-set()"},
		{"image-set() without quotes", []byte(svgOpen + `<style>rect { mask: image-set(a.png 1x) }</style></svg>`), "image-set()"},
		{"-webkit-image-set() in a style attribute", []byte(svgOpen + `<rect style="mask:-webkit-image-set(a.png 1x)"/></svg>`), "-webkit-image-set()"},
		{"cross-fade() in a presentation attribute", []byte(svgOpen + `<rect mask="cross-fade(a.png, b.png)"/></svg>`), "cross-fade()"},
		{"image() in a style element", []byte(svgOpen + `<style>.a { mask: image(a.png) }</style></svg>`), "image()"},
		{"element() in a style attribute", []byte(svgOpen + `<rect style="fill:element(#a)"/></svg>`), "element()"},
		{"src() in a style attribute", []byte(svgOpen + `<rect style="mask:src(a.png)"/></svg>`), "src()"},
		{"a quoted string outside a font name", []byte(svgOpen + `<rect style="fill:'x'"/></svg>`), "quoted string"},
		{"a selector with a quote", []byte(svgOpen + `<style>[href="x"] { fill: red }</style></svg>`), "selector"},
		{"a CSS comment", []byte(svgOpen + `<style>rect { fill: red } /* } */</style></svg>`), `"/*"`},
		{"a character a value has no use for", []byte(svgOpen + `<rect style="fill:red$"/></svg>`), `"$"`},
		{"a character after letters that lower-case longer", []byte(svgOpen + `<rect style="font-family:İİİİ$"/></svg>`), `"$"`},
		{"a brace in a style attribute", []byte(svgOpen + `<rect style="fill:red} rect {fill:blue"/></svg>`), "braces"},
		{"an href behind a no-break space", []byte(svgOpen + `<use href="&#xA0;#a"/></svg>`), "outside the image"},
		{"an href behind a line separator", []byte(svgOpen + "<use href=\"\u2028#a\"/></svg>"), "outside the image"},
		{"a data: reference", []byte(svgOpen + `<rect fill="url(data:image/svg+xml;base64,AAAA)"/></svg>`), "embedded data"},
		{"an unknown entity", []byte(`<!DOCTYPE svg [<!ENTITY x "boom">]>` + svgOpen + `<text>&x;</text></svg>`), "not well-formed"},
		{"two roots", []byte(svgOpen + `</svg><svg xmlns="http://www.w3.org/2000/svg"/>`), "neither a PNG nor an SVG"},
		{"unclosed", []byte(svgOpen + `<g>`), "not well-formed"},
		{"nested too deep", []byte(svgOpen + strings.Repeat("<g>", maxDepth) + strings.Repeat("</g>", maxDepth) + "</svg>"), "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Check(tt.data)
			if portico.ErrorCode(err) != portico.EINVALID || !strings.Contains(portico.ErrorMessage(err), tt.want) {
				t.Errorf("Check: %v, want EINVALID with %q", err, tt.want)
			}
		})
	}
}

func TestCheckKeepsAPNGAsItIs(t *testing.T) {
	data := pngOf(t, MaxSide, 16)
	typ, clean, err := Check(data)
	if err != nil || typ != "image/png" || !bytes.Equal(clean, data) {
		t.Errorf("Check = %q, %d bytes, %v; want image/png and the file unchanged", typ, len(clean), err)
	}
}

// TestSanitizeSVGRebuildsFromTheAllowList: what an editor adds (its
// namespaces, metadata, comments, a DOCTYPE) is left out; the drawing, and
// references within it, stay; text is escaped anew.
func TestSanitizeSVGRebuildsFromTheAllowList(t *testing.T) {
	in := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<!-- made by hand -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" width="120" height="40" viewBox="0 0 120 40" inkscape:version="1.3" data-name="logo">
  <metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>
  <inkscape:grid/>
  <defs><linearGradient id="g"><stop offset="0" stop-color="#1f5fbf"/></linearGradient></defs>
  <style>.a { fill: url(#g); } rect &gt; x { }
  text { font-family: 'Open Sans', 'Noto Sans 日本語', Ärial, sans-serif; fill: rgb(10, 20, 30); -inkscape-font-specification: 'Sans Bold' }</style>
  <rect class="a" x="0" y="0" width="120" height="40" fill="url(#g)" unknown="1"/>
  <use xlink:href="#g"/>
  <text x="4" y="30" style="fill:#000000;fill-opacity:1;stroke:none;-inkscape-stroke:none;font-variation-settings:normal">A &amp; B &lt;Co&gt;</text>
</svg>`
	typ, out, err := Check([]byte(in))
	if err != nil || typ != "image/svg+xml" {
		t.Fatalf("Check = %q, %v", typ, err)
	}
	want := `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">
  
  
  <defs><linearGradient id="g"><stop offset="0" stop-color="#1f5fbf"></stop></linearGradient></defs>
  <style>.a{fill:url(#g)}rect &gt; x{}text{font-family:'Open Sans', 'Noto Sans 日本語', Ärial, sans-serif;fill:rgb(10, 20, 30)}</style>
  <rect class="a" x="0" y="0" width="120" height="40" fill="url(#g)"></rect>
  <use href="#g"></use>
  <text x="4" y="30" style="fill:#000000;fill-opacity:1;stroke:none">A &amp; B &lt;Co&gt;</text>
</svg>`
	if string(out) != want {
		t.Errorf("sanitised:\n%s\nwant:\n%s", out, want)
	}
	// What comes out is itself accepted unchanged.
	if _, again, err := Check(out); err != nil || !bytes.Equal(again, out) {
		t.Errorf("checking the result again: %v\n%s", err, again)
	}
}

// TestSanitizeSVGQuotesAttributesAnew: a value cannot close its quote and
// start an attribute of its own in what is stored.
func TestSanitizeSVGQuotesAttributesAnew(t *testing.T) {
	out, err := SanitizeSVG([]byte(svgOpen + `<rect class='a"onload="alert(1)'/></svg>`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `class="a&quot;onload=&quot;alert(1)"`) || strings.Contains(string(out), `onload="`) {
		t.Errorf("sanitised: %s", out)
	}
}

// TestSanitizeSVGWritesEachAttributeOnce: href and xlink:href both come
// out as href, and a repeated attribute would make the output a document
// no parser accepts.
func TestSanitizeSVGWritesEachAttributeOnce(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use href="#a" xlink:href="#b"/></svg>`, `<use href="#a"></use>`},
		{`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="#b" href="#a"/></svg>`, `<use href="#b"></use>`},
		{`<svg xmlns="http://www.w3.org/2000/svg" xmlns:f="urn:f"><rect fill="red" f:fill="blue"/></svg>`, `<rect fill="red"></rect>`},
	} {
		out, err := SanitizeSVG([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), tt.want) {
			t.Errorf("sanitised %s:\n%s\nwant %s", tt.in, out, tt.want)
		}
		if err := checkOutput(out); err != nil {
			t.Errorf("sanitised %s: %v\n%s", tt.in, err, out)
		}
	}
}
