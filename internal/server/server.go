// Package server assembles Portico's doors into one handler: it builds the
// mux with a guard for every access level, registers every route, and puts
// the middleware around them in an explicit order.
package server

import (
	"crypto/subtle"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/api"
	"github.com/portico-mdm/portico/internal/deviceapi"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/wake"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/admin"
	"github.com/portico-mdm/portico/internal/web/mdm"
	"github.com/portico-mdm/portico/internal/web/portal"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// Config is what the server is built from.
type Config struct {
	Service        *service.Service
	Sessions       store.Sessions
	Log            *slog.Logger
	TrustedProxies web.TrustedProxies
	// TLS says the server terminates TLS itself: cookies become Secure and
	// HSTS is sent.
	TLS bool
	// MetricsToken lets a scraper read /metrics on the main listener with
	// "Authorization: Bearer <token>"; empty refuses every such request
	// (metrics may still be served on their own address).
	MetricsToken string
	// Registry collects the metrics; a new one per server keeps tests apart.
	Registry *prometheus.Registry
	// Clock is what pages measure "2 hours ago" from; nil is the wall clock.
	Clock portico.Clock
	// Wake wakes the devices waiting in the device API; nil wakes those of
	// this process only, which is enough for a single instance.
	Wake wake.Hub
}

// Server is Portico's HTTP handler.
type Server struct {
	mux     *web.Mux
	handler http.Handler
	devices *deviceapi.API
}

// New builds the server. It fails only when a template does not parse or a
// setting cannot be read.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Wake == nil {
		cfg.Wake = wake.NewLocal()
	}
	renderer, err := ui.New(cfg.Service, cfg.Clock)
	if err != nil {
		return nil, err
	}
	sessions := web.NewSessions(cfg.Sessions, cfg.Service, cfg.Service, renderer.ErrorPage, cfg.TLS)
	devices := deviceapi.New(cfg.Service, cfg.Wake)
	apple := mdm.New(cfg.Service)

	guards := sessions.Guards()
	guards[web.Device] = devices.Guard()
	guards[web.Operator] = bearer(cfg.MetricsToken)
	adminAPI := api.New(cfg.Service)
	maps.Copy(guards, adminAPI.Guards())
	guards[web.AppleDevice] = apple.Guard()
	mux := web.NewMux(guards)

	mux.Handle("GET /healthz", web.Public, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	}))
	mux.Handle("GET /readyz", web.Public, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cfg.Service.Ready(r.Context()); err != nil {
			cfg.Log.ErrorContext(r.Context(), "not ready", "err", err)
			web.WriteJSONError(w, http.StatusServiceUnavailable, "unavailable", "The database does not answer.")
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}))
	mux.Handle("GET /metrics", web.Operator, MetricsHandler(cfg.Registry))
	mux.Handle("GET /static/", web.Public, renderer.Static())
	// Browsers ask for /favicon.ico when a response names no icon (a
	// downloaded file, an error from a proxy); the pages name icon.svg.
	mux.Handle("GET /favicon.ico", web.Public, http.RedirectHandler("/static/icon.svg", http.StatusMovedPermanently))
	mux.Handle("GET /brand.css", web.Public, renderer.BrandCSS())
	mux.Handle("GET /brand/logo", web.Public, renderer.Logo())
	portal.Register(mux, cfg.Service, sessions, renderer)
	admin.Register(mux, cfg.Service, sessions, renderer)
	devices.Register(mux)
	adminAPI.Register(mux)
	apple.Register(mux)

	m := newMetrics(cfg.Registry)
	handler := web.Chain(mux,
		web.Recover,
		web.RequestID,
		cfg.TrustedProxies.Source,
		web.AccessLog(cfg.Log),
		m.instrument,
		web.SecurityHeaders(cfg.TLS),
		web.AccessRules(cfg.Service, renderer.ErrorPage, cfg.Log),
	)
	return &Server{mux: mux, handler: handler, devices: devices}, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Drain ends the devices' waits, which would otherwise hold a graceful
// shutdown for up to their timeout; give it to http.Server.RegisterOnShutdown.
func (s *Server) Drain() { s.devices.Drain() }

// Routes lists every route with who may call it.
func (s *Server) Routes() []web.Route { return s.mux.Routes() }

// MetricsHandler serves the registry in Prometheus' text format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// bearer admits requests that carry the token; with no token configured it
// admits none.
func bearer(token string) web.Guard {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := web.BearerToken(r)
			if token == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", "Bearer")
				http.Error(w, "A metrics token is required.", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portico_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// instrument counts requests by the mux pattern that served them, never by
// the raw path, so that device ids cannot blow up the label set.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &web.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.Status == 0 {
			rec.Status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.Status)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}
