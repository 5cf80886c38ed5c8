// Package qrcode renders a registration link as a QR code for a phone camera.
package qrcode

import (
	"errors"
	"fmt"
	"strings"

	goqr "github.com/skip2/go-qrcode"
)

var (
	ErrEmpty   = errors.New("qrcode: content is empty")
	ErrTooLong = errors.New("qrcode: content too long for a QR code at error correction level Medium")
)

// Medium survives a smudged or glare-struck screen while keeping a
// typical link at a version a phone locks onto from arm's length.
const level = goqr.Medium

func encode(content string) (*goqr.QRCode, error) {
	if content == "" {
		return nil, ErrEmpty
	}
	q, err := goqr.New(content, level)
	if err != nil {
		// Once content is non-empty, capacity is the only way New fails.
		return nil, fmt.Errorf("%w: %d bytes (%v)", ErrTooLong, len(content), err)
	}
	return q, nil
}

// PNG returns a PNG of about size×size pixels, including the quiet zone.
// The size is rounded down to a whole number of pixels per module (but at
// least one), because uneven module widths make scanners misread.
func PNG(content string, size int) ([]byte, error) {
	if size <= 0 {
		return nil, fmt.Errorf("qrcode: size %d is not positive", size)
	}
	q, err := encode(content)
	if err != nil {
		return nil, err
	}
	modules := len(q.Bitmap())
	// A negative size asks go-qrcode for that many pixels per module.
	return q.PNG(-max(1, size/modules))
}

// SVG returns a square SVG of the same bitmap, one unit per module, that
// scales to whatever box the page gives it. It uses presentation attributes
// only, so it can be inlined under a Content-Security-Policy without
// 'unsafe-inline' styles. The content itself never appears in the markup.
func SVG(content string) (string, error) {
	q, err := encode(content)
	if err != nil {
		return "", err
	}
	bitmap := q.Bitmap()
	n := len(bitmap)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="QR code" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bitmap {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}
