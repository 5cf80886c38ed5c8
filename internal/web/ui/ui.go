// Package ui renders the HTML that people see: one layout shared by the user
// portal and the admin portal, page templates parsed once at start-up, the
// error page, and the static files (stylesheet, icons).
package ui

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Site is what every page needs to know about the installation.
type Site interface {
	Settings(ctx context.Context) (portico.SettingValues, error)
	// LogoInfo is the logo without its image; ENOTFOUND when there is none.
	LogoInfo(ctx context.Context) (*portico.Logo, error)
	Logo(ctx context.Context) (*portico.Logo, error)
}

// Renderer holds the parsed templates: each page is parsed once, together
// with the layout, so that a broken template stops start-up, not a request.
type Renderer struct {
	site  Site
	clock portico.Clock
	pages map[string]*template.Template
}

// New parses every page template.
func New(site Site, clock portico.Clock) (*Renderer, error) {
	if clock == nil {
		clock = portico.SystemClock{}
	}
	r := &Renderer{site: site, clock: clock, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	funcs := r.funcs()
	for _, name := range names {
		page := strings.TrimSuffix(path.Base(name), ".html")
		if strings.HasPrefix(page, "_") { // the layout and the parts pages share
			continue
		}
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/_*.html", name)
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", page, err)
		}
		r.pages[page] = t
	}
	return r, nil
}

// MenuItem is one entry of the welcome menu.
type MenuItem struct {
	Label, Href string
}

// Tab is one entry of a section's tab bar; Current marks the one the page
// belongs to.
type Tab struct {
	Label, Href string
	Current     bool
}

// Layout is what the shared layout shows around every page. Page data
// types embed it.
type Layout struct {
	Title    string
	Section  string // "portal" or "admin": which navigation to show
	User     *portico.User
	Menu     []MenuItem
	Tabs     []Tab
	Helpdesk portico.Helpdesk
	Brand    portico.Brand
	Flash    string
	// Warning is a banner about something only an admin can fix.
	Warning string
}

// Layout returns the layout for a page of the signed-in user (if any).
// When the settings cannot be read the page still renders, with the
// default helpdesk contact.
func (r *Renderer) Layout(req *http.Request, title, section string) Layout {
	settings, err := r.site.Settings(req.Context())
	if err != nil {
		slog.ErrorContext(req.Context(), "reading settings for a page", "err", err)
		settings = portico.SettingValues{}
	}
	logo, err := r.site.LogoInfo(req.Context())
	if err != nil {
		if portico.ErrorCode(err) != portico.ENOTFOUND {
			slog.ErrorContext(req.Context(), "reading the logo for a page", "err", err)
		}
		logo = nil
	}
	brand := settings.Brand(logo)
	return Layout{
		Title:    title,
		Section:  section,
		User:     portico.ActorFromContext(req.Context()).User,
		Helpdesk: settings.Helpdesk(),
		Brand:    brand,
	}
}

// Render writes a page. The page is executed into a buffer first, so that a
// failure half-way becomes an error page rather than half a page.
func (r *Renderer) Render(w http.ResponseWriter, status int, page string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("ui: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("ui: rendering %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// Fragment writes one named part of a page, without the layout: what a
// page's script swaps in when it refreshes that part.
func (r *Renderer) Fragment(w http.ResponseWriter, status int, page, part string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("ui: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, part, data); err != nil {
		return fmt.Errorf("ui: rendering %s of %s: %w", part, page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// ErrorPage is the one place where an error becomes a page: the status from
// its code, the message meant for the person, the detail only in the log.
func (r *Renderer) ErrorPage(w http.ResponseWriter, req *http.Request, err error) {
	web.LogError(req, err)
	status := web.Status(err)
	data := struct {
		Layout
		Status  int
		Message string
	}{r.Layout(req, http.StatusText(status), "portal"), status, portico.ErrorMessage(err)}
	if rerr := r.Render(w, status, "error", data); rerr != nil {
		slog.ErrorContext(req.Context(), "rendering the error page", "err", rerr)
		http.Error(w, portico.ErrorMessage(err), status)
	}
}

// HTML adapts a page handler: an error it returns becomes the error page.
func (r *Renderer) HTML(h web.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := h(w, req); err != nil {
			r.ErrorPage(w, req, err)
		}
	})
}

// Static serves the embedded stylesheet and icons under /static/.
func (r *Renderer) Static() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, req)
	})
}

func (r *Renderer) funcs() template.FuncMap {
	return template.FuncMap{
		// ago is a time as people say it ("2 hours ago"); exact is for the
		// hover text beside it.
		"ago":   func(t time.Time) string { return ago(r.clock.Now(), t) },
		"in":    func(t time.Time) string { return in(r.clock.Now(), t) },
		"now":   r.clock.Now,
		"exact": exact,
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2 Jan 2006")
		},
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"inc": func(n int) int { return n + 1 },
		"dec": func(n int) int { return n - 1 },
	}
}

func exact(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 Jan 2006, 15:04 MST")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return count(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return count(int(d/time.Hour), "hour") + " ago"
	case d < 60*24*time.Hour:
		return count(int(math.Round(d.Hours()/24)), "day") + " ago"
	}
	return "on " + t.UTC().Format("2 Jan 2006")
}

// in is a time to come as people say it ("in 45 seconds"), to the
// second while it is close: a wipe's countdown.
func in(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "now"
	case d < 2*time.Minute:
		return "in " + count(int(math.Ceil(d.Seconds())), "second")
	case d < time.Hour:
		return "in " + count(int(math.Ceil(d.Minutes())), "minute")
	}
	return "at " + t.UTC().Format("15:04 MST")
}

func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
