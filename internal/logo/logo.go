// Package logo checks an image an admin uploads as the portal's logo. A
// PNG is decoded in full and its size bounded. An SVG is a document that
// can hold scripts and references to other sites, so it is never stored as
// uploaded: it is parsed and written anew from an allow-list of drawing
// elements and attributes, and an upload with active content (scripts,
// event handlers, embedded documents, animations, links and references
// outside the image) is refused with the reason, so the admin knows the
// file was not what they thought.
package logo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"

	"github.com/portico-mdm/portico"
)

const (
	// MaxBytes bounds an upload: a logo is small, and every page links it.
	MaxBytes = 256 << 10
	// MaxSide bounds a PNG's width and height in pixels.
	MaxSide = 1024
	// maxDepth bounds the nesting of an SVG's elements.
	maxDepth = 64
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Check returns the content type of an uploaded logo and the bytes to
// store, or why it is refused.
func Check(data []byte) (contentType string, clean []byte, err error) {
	switch {
	case len(data) == 0:
		return "", nil, portico.Errorf(portico.EINVALID, "The logo file is empty.")
	case len(data) > MaxBytes:
		return "", nil, portico.Errorf(portico.EINVALID, "The logo is %d KiB; it may be at most %d KiB.", (len(data)+1023)>>10, MaxBytes>>10)
	case bytes.HasPrefix(data, pngSignature):
		if err := checkPNG(data); err != nil {
			return "", nil, err
		}
		return "image/png", data, nil
	case looksLikeXML(data):
		clean, err := SanitizeSVG(data)
		if err != nil {
			return "", nil, err
		}
		return "image/svg+xml", clean, nil
	}
	return "", nil, portico.Errorf(portico.EINVALID, "The logo is neither a PNG nor an SVG image; save it as one of those.")
}

func checkPNG(data []byte) error {
	// The header first: a small file can claim a huge image, which must be
	// refused before it is decoded into memory.
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return portico.Errorf(portico.EINVALID, "The logo is not a readable PNG image: %s.", err)
	}
	if cfg.Width > MaxSide || cfg.Height > MaxSide {
		return portico.Errorf(portico.EINVALID, "The logo is %d×%d pixels; it may be at most %d×%d.", cfg.Width, cfg.Height, MaxSide, MaxSide)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		return portico.Errorf(portico.EINVALID, "The logo is not a readable PNG image: %s.", err)
	}
	return nil
}

func looksLikeXML(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("<"))
}

const (
	svgNS   = "http://www.w3.org/2000/svg"
	xlinkNS = "http://www.w3.org/1999/xlink"
)

// elements are the drawing elements kept. Any other element of the SVG
// namespace that is not refused below, and every element of another
// namespace (an editor's own), is left out with all it contains.
var elements = set("svg", "g", "defs", "title", "desc", "symbol", "use", "path", "rect", "circle",
	"ellipse", "line", "polyline", "polygon", "text", "tspan", "textPath", "linearGradient",
	"radialGradient", "stop", "clipPath", "mask", "pattern", "marker", "style", "filter",
	"feBlend", "feColorMatrix", "feComposite", "feDropShadow", "feFlood", "feGaussianBlur",
	"feMerge", "feMergeNode", "feOffset")

// refused are the elements that run, load or link to something: an upload
// with one is refused rather than quietly changed.
var refused = map[string]string{
	"script":           "a script",
	"foreignObject":    "embedded HTML (foreignObject)",
	"image":            "an embedded image",
	"feImage":          "an embedded image",
	"a":                "a link",
	"iframe":           "an embedded page",
	"embed":            "embedded content",
	"object":           "embedded content",
	"animate":          "an animation",
	"animateMotion":    "an animation",
	"animateTransform": "an animation",
	"set":              "an animation",
	"discard":          "an animation",
	"handler":          "a script",
	"listener":         "a script",
	"font-face-uri":    "a reference to a font file",
	"cursor":           "a reference to a cursor file",
}

// attributes are the presentation and geometry attributes kept; others
// (an editor's, data-…) are left out.
var attributes = set("id", "class", "style", "transform", "d", "x", "y", "x1", "y1", "x2", "y2",
	"cx", "cy", "r", "rx", "ry", "fx", "fy", "fr", "width", "height", "viewBox", "preserveAspectRatio",
	"points", "pathLength", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap",
	"stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "stroke-opacity",
	"opacity", "offset", "stop-color", "stop-opacity", "gradientUnits", "gradientTransform",
	"spreadMethod", "clip-path", "clip-rule", "clipPathUnits", "mask", "maskUnits", "maskContentUnits",
	"patternUnits", "patternContentUnits", "patternTransform", "font-family", "font-size",
	"font-weight", "font-style", "font-variant", "text-anchor", "dominant-baseline", "alignment-baseline",
	"baseline-shift", "letter-spacing", "word-spacing", "text-decoration", "dx", "dy", "rotate",
	"textLength", "lengthAdjust", "startOffset", "visibility", "display", "color", "overflow",
	"filter", "filterUnits", "primitiveUnits", "stdDeviation", "in", "in2", "result", "mode",
	"operator", "k1", "k2", "k3", "k4", "flood-color", "flood-opacity", "values", "type",
	"markerWidth", "markerHeight", "markerUnits", "refX", "refY", "orient", "marker-start",
	"marker-mid", "marker-end", "vector-effect", "paint-order", "shape-rendering", "text-rendering",
	"mix-blend-mode", "isolation", "media", "href")

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// SanitizeSVG parses an SVG and writes it anew from the allow-lists, or
// says why it is refused.
func SanitizeSVG(data []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var out bytes.Buffer
	var stack []string // the open elements kept; "" for one left out
	skipping := 0      // depth inside an element left out
	sawRoot := false
	var style bytes.Buffer // the text of the open style element
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, refuse("it is not well-formed XML (%s)", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, refuse("its elements are nested more than %d deep", maxDepth)
			}
			name := t.Name.Local
			if len(stack) == 0 {
				if sawRoot || t.Name.Space != svgNS || name != "svg" {
					return nil, portico.Errorf(portico.EINVALID, "The logo is neither a PNG nor an SVG image (an SVG starts with <svg xmlns=\"%s\">).", svgNS)
				}
				sawRoot = true
			}
			if what, bad := refused[name]; bad {
				return nil, refuse("it has %s (<%s>)", what, name)
			}
			if len(stack) > 0 && stack[len(stack)-1] == "style" {
				// A browser joins the text around a child into one style
				// sheet, which would join what was checked in parts.
				return nil, refuse("its style element holds another element (<%s>)", name)
			}
			if skipping > 0 || t.Name.Space != svgNS || !elements[name] {
				skipping++
				stack = append(stack, "")
				continue
			}
			if err := writeStart(&out, t, len(stack) == 0); err != nil {
				return nil, err
			}
			stack = append(stack, name)
			style.Reset()
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, refuse("it is not well-formed XML")
			}
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if name == "" {
				skipping--
				continue
			}
			if name == "style" {
				// Checked whole, as the browser reads it: comments and
				// CDATA sections split the text into parts the output
				// joins again.
				css, err := checkStyleSheet(style.String())
				if err != nil {
					return nil, err
				}
				textEscaper.WriteString(&out, css)
			}
			fmt.Fprintf(&out, "</%s>", name)
		case xml.CharData:
			if skipping > 0 || len(stack) == 0 {
				continue
			}
			if stack[len(stack)-1] == "style" {
				style.Write(t)
				continue
			}
			textEscaper.WriteString(&out, string(t))
		case xml.Directive:
			// A DOCTYPE is left out; entities it declares are not expanded,
			// so a document that uses them does not parse.
		case xml.Comment, xml.ProcInst:
		}
	}
	if !sawRoot {
		return nil, portico.Errorf(portico.EINVALID, "The logo is neither a PNG nor an SVG image; save it as one of those.")
	}
	return out.Bytes(), nil
}

func writeStart(out *bytes.Buffer, t xml.StartElement, root bool) error {
	out.WriteString("<" + t.Name.Local)
	if root {
		out.WriteString(` xmlns="` + svgNS + `"`)
	}
	written := map[string]bool{}
	for _, a := range t.Attr {
		local := a.Name.Local
		if strings.HasPrefix(strings.ToLower(local), "on") {
			return refuse("it has an event handler (%s), which is a script", local)
		}
		if local == "href" && (a.Name.Space == "" || a.Name.Space == xlinkNS) {
			// Only the spaces a URL parser strips: Unicode ones (a
			// no-break space) stay, and make the reference a relative URL.
			if !strings.HasPrefix(strings.Trim(a.Value, " \t\n\r\f"), "#") {
				return refuse("it refers to %q outside the image; only references within it (#id) are allowed", a.Value)
			}
		} else if a.Name.Space != "" || !attributes[local] {
			continue
		}
		value, err := checkValue(local, a.Value)
		if err != nil {
			return err
		}
		// href and xlink:href both come out as href, and a parser refuses
		// an element with an attribute twice: the first one is kept.
		if written[local] {
			continue
		}
		written[local] = true
		out.WriteString(" " + local + `="`)
		attrEscaper.WriteString(out, value)
		out.WriteString(`"`)
	}
	out.WriteString(">")
	return nil
}

// checkValue returns an attribute's value to write, or refuses it when it
// reaches outside the image: url() to anything but an element of the
// image, a script address, or CSS a logo may not use.
func checkValue(name, v string) (string, error) {
	switch {
	case name == "style":
		return checkStyleAttr(v)
	case cssProperties[name]:
		// A presentation attribute is a CSS value to the browser.
		if err := checkURLs(name, v); err != nil {
			return "", err
		}
		return v, checkCSSValue(name, v)
	}
	return v, checkURLs(name, v)
}

func checkURLs(where, v string) error {
	lower := strings.ToLower(v)
	if strings.Contains(lower, "javascript:") || strings.Contains(lower, "data:") {
		return refuse("its %s refers to a script or embedded data", where)
	}
	for rest := lower; ; {
		i := strings.Index(rest, "url(")
		if i < 0 {
			return nil
		}
		rest = strings.TrimLeft(rest[i+4:], " \t\r\n'\"")
		if !strings.HasPrefix(rest, "#") {
			return refuse("its %s refers to something outside the image with url(); only url(#id) is allowed", where)
		}
	}
}

var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	// An attribute's line breaks and tabs are written as references, which
	// a parser keeps, rather than as themselves, which it turns to spaces.
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
		"\t", "&#9;", "\n", "&#10;", "\r", "&#13;")
)

func refuse(format string, args ...any) error {
	return portico.Errorf(portico.EINVALID, "This SVG cannot be used as the logo: "+format+". Export it again as plain shapes, or as a PNG.", args...)
}
