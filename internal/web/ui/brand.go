package ui

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/portico-mdm/portico"
)

// BrandCSS serves the stylesheet of the portal's colours. The colour is
// written into a stylesheet of this site, rather than into the page, so
// that pages keep a policy that allows no inline style; it was checked to
// be #rrggbb when stored, and again by Brand. Pages link it with its
// version, which a browser then keeps; a change of colour changes the
// link at the next page on every instance.
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
		if notModified(w, req, b.CSSVersion()) {
			return
		}
		w.Write([]byte(b.CSS()))
	})
}

// svgPolicy keeps an SVG logo opened on its own from running or loading
// anything, however it got past the upload's checks; sandbox also gives
// it an origin of its own, should a browser run it as a document.
const svgPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// Logo serves the portal's logo as stored, with its own type and a policy
// that lets it load nothing. Pages link it with its digest, which a
// browser then keeps; a revalidation costs a 304 from the logo's
// metadata, without reading its image.
func (r *Renderer) Logo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		info, err := r.site.LogoInfo(req.Context())
		if err != nil {
			r.ErrorPage(w, req, err)
			return
		}
		logoHeaders(w, info)
		if notModified(w, req, info.Digest) {
			return
		}
		l, err := r.site.Logo(req.Context())
		if err != nil {
			r.ErrorPage(w, req, err)
			return
		}
		if l.Digest != info.Digest { // replaced in between
			logoHeaders(w, l)
			cacheFor(w, req, l.Digest)
		}
		w.Header().Set("Content-Type", l.ContentType)
		w.Write(l.Data)
	})
}

func logoHeaders(w http.ResponseWriter, l *portico.Logo) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if l.ContentType == "image/svg+xml" {
		h.Set("Content-Security-Policy", svgPolicy)
	} else {
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	}
}

// notModified sets the caching headers of a response whose content is
// named version, and answers 304 when the browser has it already.
func notModified(w http.ResponseWriter, req *http.Request, version string) bool {
	cacheFor(w, req, version)
	for _, tag := range strings.Split(req.Header.Get("If-None-Match"), ",") {
		if tag = strings.TrimSpace(tag); tag == `"`+version+`"` || tag == "*" {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

// cacheFor lets a browser keep a response for good when it was asked for
// by its version (?v=), as pages link it: a new version is a new address.
// Asked for otherwise, it is revalidated each time.
func cacheFor(w http.ResponseWriter, req *http.Request, version string) {
	h := w.Header()
	h.Set("ETag", `"`+version+`"`)
	if req.URL.Query().Get("v") == version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
}
