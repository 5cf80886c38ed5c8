package qrcode_test

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/portico-mdm/portico/internal/qrcode"
	"github.com/portico-mdm/portico/internal/qrcode/qrcodetest"
)

// maxBytes is the byte-mode capacity of version 40 at level Medium.
const maxBytes = 2331

// link returns a registration link with a 43-char token (32 bytes in
// base64url, like the real ones), padded with a query parameter to n bytes.
func link(n int) string {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i * 37)
	}
	s := "https://mdm.example.com/go?t=" + base64.RawURLEncoding.EncodeToString(raw)
	if n < len(s) {
		return s
	}
	return s + "&p=" + strings.Repeat("x", n-len(s)-3)
}

var contents = []struct {
	name    string
	content string
}{
	{"short", "https://a.example/go?t=x"},
	{"registration", link(0)},
	{"300", link(300)},
	{"1000", link(1000)},
	{"capacity", link(maxBytes)},
}

func TestPNG(t *testing.T) {
	for _, tc := range contents {
		t.Run(tc.name, func(t *testing.T) {
			b, err := qrcode.PNG(tc.content, 800)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != h || w > 800 || w < 400 {
				t.Errorf("image is %dx%d, want square near 800", w, h)
			}
			if got := qrcodetest.Decode(t, img); got != tc.content {
				t.Errorf("decoded %q, want %q", got, tc.content)
			}
		})
	}
}

type svgDoc struct {
	ViewBox string `xml:"viewBox,attr"`
	Role    string `xml:"role,attr"`
	Label   string `xml:"aria-label,attr"`
	Shape   string `xml:"shape-rendering,attr"`
	Path    struct {
		Fill string `xml:"fill,attr"`
		D    string `xml:"d,attr"`
	} `xml:"path"`
}

// rasterise draws the SVG's path at scale pixels per module, relying on the
// package's run format "Mx yhNv1h-Nz" rather than a general path parser.
func rasterise(t *testing.T, svg string, scale int) image.Image {
	t.Helper()
	var doc svgDoc
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &n, &n); err != nil {
		t.Fatalf("viewBox %q: %v", doc.ViewBox, err)
	}
	if doc.Role != "img" || doc.Label == "" || doc.Shape != "crispEdges" || doc.Path.Fill != "#000" {
		t.Errorf("missing or wrong attributes: %+v", doc)
	}
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, run := range strings.Split(doc.Path.D, "M")[1:] {
		var x, y, w, back int
		if _, err := fmt.Sscanf(run, "%d %dh%dv1h-%dz", &x, &y, &w, &back); err != nil || w != back {
			t.Fatalf("run %q: %v", run, err)
		}
		for py := y * scale; py < (y+1)*scale; py++ {
			for px := x * scale; px < (x+w)*scale; px++ {
				img.SetGray(px, py, color.Gray{})
			}
		}
	}
	return img
}

func TestSVG(t *testing.T) {
	for _, tc := range contents {
		t.Run(tc.name, func(t *testing.T) {
			svg, err := qrcode.SVG(tc.content)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(svg, "style") {
				t.Error("SVG uses style, which the page's CSP forbids")
			}
			if got := qrcodetest.Decode(t, rasterise(t, svg, 4)); got != tc.content {
				t.Errorf("decoded %q, want %q", got, tc.content)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		want    error
	}{
		{"empty", "", qrcode.ErrEmpty},
		{"over capacity", link(maxBytes + 1), qrcode.ErrTooLong},
		{"huge", link(100000), qrcode.ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := qrcode.PNG(tc.content, 256); !errors.Is(err, tc.want) {
				t.Errorf("PNG: got %v, want %v", err, tc.want)
			}
			if _, err := qrcode.SVG(tc.content); !errors.Is(err, tc.want) {
				t.Errorf("SVG: got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := qrcode.PNG(link(0), 0); err == nil {
		t.Error("PNG with size 0: want error")
	}
}
