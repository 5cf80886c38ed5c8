package ui

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/portico-mdm/portico"
)

// BrandCSS serves the stylesheet of the portal's colours. The colour is
// written into a stylesheet of this site, rather than into the page, so
// that pages keep a policy that allows no inline style; it was checked to
// be #rrggbb when stored, and again by Brand. It is read per request, so a
// change shows at the next page on every instance.
func (r *Renderer) BrandCSS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		v, err := r.site.Settings(req.Context())
		if err != nil {
			slog.ErrorContext(req.Context(), "reading the brand for its stylesheet", "err", err)
			v = portico.SettingValues{}
		}
		b := v.Brand(nil)
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		fmt.Fprintf(w, ":root { --brand: %s; --brand-dark: %s; --on-brand: %s; }\n", b.Color, b.Darker(), b.OnColor())
	})
}

// svgPolicy keeps an SVG logo opened on its own from running or loading
// anything, however it got past the upload's checks.
const svgPolicy = "default-src 'none'; style-src 'unsafe-inline'"

// Logo serves the portal's logo as stored, with its own type and a policy
// that lets it load nothing. Browsers revalidate it on each page, so a new
// logo shows at once; an unchanged one costs a 304.
func (r *Renderer) Logo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		l, err := r.site.Logo(req.Context())
		if err != nil {
			r.ErrorPage(w, req, err)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", `"`+l.Digest+`"`)
		if l.ContentType == "image/svg+xml" {
			h.Set("Content-Security-Policy", svgPolicy)
		} else {
			h.Set("Content-Security-Policy", "default-src 'none'")
		}
		if req.Header.Get("If-None-Match") == `"`+l.Digest+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", l.ContentType)
		w.Write(l.Data)
	})
}
