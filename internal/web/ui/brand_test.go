package ui_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// counting is the real site, counting what each page and file reads.
type counting struct {
	ui.Site
	mu    sync.Mutex
	reads map[string]int
}

func (c *counting) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads[name]++
}

func (c *counting) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reads
	c.reads = map[string]int{}
	return r
}

func (c *counting) Settings(ctx context.Context) (portico.SettingValues, error) {
	c.count("settings")
	return c.Site.Settings(ctx)
}

func (c *counting) LogoInfo(ctx context.Context) (*portico.Logo, error) {
	c.count("logo info")
	return c.Site.LogoInfo(ctx)
}

func (c *counting) Logo(ctx context.Context) (*portico.Logo, error) {
	c.count("logo")
	return c.Site.Logo(ctx)
}

func newBranded(t *testing.T) (*counting, *ui.Renderer, *portico.Logo) {
	t.Helper()
	e := servertest.New(t)
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)))
	l, err := e.Service.SetLogo(e.Op, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	site := &counting{Site: e.Service, reads: map[string]int{}}
	r, err := ui.New(site, nil)
	if err != nil {
		t.Fatal(err)
	}
	return site, r, l
}

// TestLayoutReadsTheBrandOnce: every page reads the settings once and the
// logo's metadata once, never its image.
func TestLayoutReadsTheBrandOnce(t *testing.T) {
	site, r, l := newBranded(t)
	layout := r.Layout(httptest.NewRequest("GET", "/", nil), "Home", "portal")
	if got := site.take(); len(got) != 2 || got["settings"] != 1 || got["logo info"] != 1 {
		t.Errorf("a page read %v, want the settings and the logo's metadata once each", got)
	}
	if layout.Brand.Logo == nil || layout.Brand.Logo.Digest != l.Digest || layout.Brand.Name != portico.DefaultPortalName {
		t.Errorf("brand = %+v", layout.Brand)
	}
}

// TestBrandFilesAreKeptByTheirVersion: asked for by the version a page
// links, the stylesheet and the logo are kept for good; otherwise they are
// revalidated, and revalidating the logo does not read its image.
func TestBrandFilesAreKeptByTheirVersion(t *testing.T) {
	site, r, l := newBranded(t)
	css := (portico.Brand{Color: portico.DefaultBrandColor}).CSSVersion()
	forever, always := "public, max-age=31536000, immutable", "no-cache"
	tests := []struct {
		name        string
		handler     http.Handler
		target      string
		ifNoneMatch string
		status      int
		cache       string
		reads       map[string]int
	}{
		{"the stylesheet by its version", r.BrandCSS(), "/brand.css?v=" + css, "", 200, forever, map[string]int{"settings": 1}},
		{"the stylesheet by an old version", r.BrandCSS(), "/brand.css?v=0123456789abcdef", "", 200, always, map[string]int{"settings": 1}},
		{"the stylesheet unversioned", r.BrandCSS(), "/brand.css", "", 200, always, map[string]int{"settings": 1}},
		{"the stylesheet revalidated", r.BrandCSS(), "/brand.css", `"` + css + `"`, 304, always, map[string]int{"settings": 1}},
		{"the logo by its digest", r.Logo(), "/brand/logo?v=" + l.Digest, "", 200, forever, map[string]int{"logo info": 1, "logo": 1}},
		{"the logo by an old digest", r.Logo(), "/brand/logo?v=00", "", 200, always, map[string]int{"logo info": 1, "logo": 1}},
		{"the logo revalidated", r.Logo(), "/brand/logo", `"` + l.Digest + `"`, 304, always, map[string]int{"logo info": 1}},
		{"the logo revalidated among others", r.Logo(), "/brand/logo?v=" + l.Digest, `"x", "` + l.Digest + `"`, 304, forever, map[string]int{"logo info": 1}},
		{"the logo changed since", r.Logo(), "/brand/logo", `"00"`, 200, always, map[string]int{"logo info": 1, "logo": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.target, nil)
			if tt.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			w := httptest.NewRecorder()
			site.take()
			tt.handler.ServeHTTP(w, req)
			got := site.take()
			if w.Code != tt.status || w.Header().Get("Cache-Control") != tt.cache || w.Header().Get("ETag") == "" {
				t.Errorf("status %d, Cache-Control %q, ETag %q; want %d, %q", w.Code, w.Header().Get("Cache-Control"), w.Header().Get("ETag"), tt.status, tt.cache)
			}
			if len(got) != len(tt.reads) {
				t.Errorf("read %v, want %v", got, tt.reads)
			}
			for k, n := range tt.reads {
				if got[k] != n {
					t.Errorf("read %v, want %v", got, tt.reads)
				}
			}
			if tt.status == 304 && w.Body.Len() != 0 {
				t.Errorf("a 304 with a body of %d bytes", w.Body.Len())
			}
		})
	}
}
