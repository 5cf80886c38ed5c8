package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns"
	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/backup"
	"github.com/portico-mdm/portico/internal/outbox"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/selfsigned"
	"github.com/portico-mdm/portico/internal/server"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/wake"
	"github.com/portico-mdm/portico/internal/web"
)

// shutdownGrace is how long in-flight requests may take to finish once
// serve is asked to stop.
const shutdownGrace = 30 * time.Second

type serveFlags struct {
	addr, baseURL, tlsCert, tlsKey, trustedProxies string
	metricsAddr, metricsToken, logLevel            string
	scepCACert, scepCAKey                          string
	profileSigningCert, profileSigningKey          string
	apnsURL, apnsCA                                string
}

func (c *cli) serve(ctx context.Context, g globals, args []string) error {
	fs := c.flags("serve")
	g.define(fs, c)
	var f serveFlags
	fs.StringVar(&f.addr, "addr", c.env("addr", "127.0.0.1:8080"), "address to listen on (PORTICO_ADDR)")
	fs.StringVar(&f.baseURL, "base-url", c.env("base-url", ""), "URL devices and people reach Portico at; default: derived from --addr (PORTICO_BASE_URL)")
	fs.StringVar(&f.tlsCert, "tls-cert", c.env("tls-cert", ""), "TLS certificate chain, PEM (PORTICO_TLS_CERT)")
	fs.StringVar(&f.tlsKey, "tls-key", c.env("tls-key", ""), "TLS private key, PEM (PORTICO_TLS_KEY)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", c.env("trusted-proxies", ""), "comma-separated CIDRs whose X-Forwarded-For is believed (PORTICO_TRUSTED_PROXIES)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", c.env("metrics-addr", ""), "serve /metrics without a token on this separate address (PORTICO_METRICS_ADDR)")
	fs.StringVar(&f.metricsToken, "metrics-token", c.env("metrics-token", ""), "bearer token for /metrics on the main address (PORTICO_METRICS_TOKEN)")
	fs.StringVar(&f.scepCACert, "scep-ca-cert", c.env("scep-ca-cert", ""), "CA certificate, PEM, that issues Apple device identities; default: one made in the data directory (PORTICO_SCEP_CA_CERT)")
	fs.StringVar(&f.scepCAKey, "scep-ca-key", c.env("scep-ca-key", ""), "RSA key of --scep-ca-cert, PEM (PORTICO_SCEP_CA_KEY)")
	fs.StringVar(&f.profileSigningCert, "profile-signing-cert", c.env("profile-signing-cert", ""), "certificate chain, PEM, that signs Apple enrollment profiles; default: the TLS certificate (PORTICO_PROFILE_SIGNING_CERT)")
	fs.StringVar(&f.profileSigningKey, "profile-signing-key", c.env("profile-signing-key", ""), "private key of --profile-signing-cert, PEM (PORTICO_PROFILE_SIGNING_KEY)")
	fs.StringVar(&f.apnsURL, "apns-url", c.env("apns-url", ""), "Apple's push service, or a stand-in for tests; default: "+apns.Production+" (PORTICO_APNS_URL)")
	fs.StringVar(&f.apnsCA, "apns-ca", c.env("apns-ca", ""), "PEM certificates that verify --apns-url instead of the system's (PORTICO_APNS_CA)")
	fs.StringVar(&f.logLevel, "log-level", c.env("log-level", "info"), "debug, info, warn or error (PORTICO_LOG_LEVEL)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	proxies, err := web.ParseTrustedProxies(f.trustedProxies)
	if err != nil {
		return usageError("--trusted-proxies: " + portico.ErrorMessage(err))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError(fmt.Sprintf("--log-level %q is not debug, info, warn or error", f.logLevel))
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usageError("--tls-cert and --tls-key go together")
	}
	if (f.scepCACert == "") != (f.scepCAKey == "") {
		return usageError("--scep-ca-cert and --scep-ca-key go together")
	}
	if (f.profileSigningCert == "") != (f.profileSigningKey == "") {
		return usageError("--profile-signing-cert and --profile-signing-key go together")
	}
	apnsURL, apnsRoots, err := apnsTarget(f)
	if err != nil {
		return err
	}
	log := slog.New(web.LogHandler{Handler: slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: level})})
	slog.SetDefault(log)
	c.tuneGC()

	db, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	tlsConfig, note, err := c.tlsConfig(g, f, ln.Addr())
	if err != nil {
		return err
	}
	url := f.baseURL
	if url == "" {
		url = listenURL(ln.Addr(), tlsConfig != nil)
	}
	// The hub outlives ctx, so that requests still finishing after SIGTERM
	// can wake devices.
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	hub, err := wakeHub(hubCtx, g, log)
	if err != nil {
		return err
	}
	key, madeKey, err := secret.LoadKey(g.data, c.getenv(secret.KeyEnv))
	if err != nil {
		return err
	}
	sealer, err := secret.NewSealer(key)
	if err != nil {
		return err
	}
	apple, err := appleConfig(g, f, tlsConfig, log)
	if err != nil {
		return err
	}
	if tlsConfig != nil {
		// Browsers offer only client certificates of the CAs named here,
		// so a desktop with certificates of its own shows no picker.
		tlsConfig.ClientCAs = x509.NewCertPool()
		tlsConfig.ClientCAs.AddCert(apple.CA.Cert)
	}
	var backups service.Backups
	if !g.postgres() {
		backups = backup.Maker{DB: db, Data: g.data}
	}
	// The worker that delivers the outbox also sends the test messages,
	// and pushes through the service: the service is its pusher once made.
	pusher := &servicePusher{}
	messages := outbox.New(outbox.Config{Store: db, Log: log, Pusher: pusher})
	svc := service.New(service.Config{Store: db, Passwords: secret.Default, Log: log, BaseURL: url, Wake: hub, Sealer: sealer,
		Apple: apple, Backups: backups, TestSender: messages, APNsURL: apnsURL, APNsRootCAs: apnsRoots})
	pusher.Service = svc
	if err := svc.CheckSealingKey(ctx); err != nil {
		return err
	}
	if madeKey {
		log.Info("made the key that seals users' certificates; back up the data directory's keys/secret.key with the database", "path", filepath.Join(g.data, "keys", "secret.key"))
	}
	password, err := svc.EnsureAdmin(ctx, "admin", "admin@localhost")
	if err != nil {
		return fmt.Errorf("creating the first administrator: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := server.New(server.Config{
		Service: svc, Sessions: db, Log: log, TrustedProxies: proxies,
		TLS: secure(tlsConfig, f.baseURL), MetricsToken: f.metricsToken, Registry: reg, Wake: hub,
	})
	if err != nil {
		return err
	}

	httpServer := newHTTPServer(srv, log)
	httpServer.RegisterOnShutdown(srv.Drain)
	if tlsConfig != nil {
		httpServer.TLSConfig = tlsConfig
		ln = tls.NewListener(ln, tlsConfig)
	}
	if note != "" {
		fmt.Fprintln(c.stdout, note)
	}
	if password != "" {
		fmt.Fprintf(c.stdout, "First administrator created. Sign in as \"admin\" with the password %s\n(shown once: the first sign-in asks you to choose your own).\n", password)
	}
	fmt.Fprintf(c.stdout, "Portico is running at %s\n", url)
	if err := c.reportMissingGateways(ctx, db, log); err != nil {
		return err
	}
	if c.ready != nil {
		c.ready(url)
	}

	runCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	workers := runWorkers(runCtx, svc, messages, log)
	errc := make(chan error, 2)
	go func() { errc <- httpServer.Serve(ln) }()
	if f.metricsAddr != "" {
		metricsServer := newHTTPServer(server.MetricsHandler(reg), log)
		defer metricsServer.Close()
		go func() { errc <- listenAndServe(metricsServer, f.metricsAddr) }()
		fmt.Fprintf(c.stdout, "Metrics are at http://%s/metrics\n", f.metricsAddr)
	}

	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down: finishing requests in flight")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		err = httpServer.Shutdown(shutdownCtx)
	}
	stopWorkers()
	workers.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// wakeHub returns how devices waiting on this instance are woken: through
// PostgreSQL, so that a command queued on any instance sharing the database
// wakes them, or in this process alone for SQLite, which one instance owns.
func wakeHub(ctx context.Context, g globals, log *slog.Logger) (wake.Hub, error) {
	if !g.postgres() {
		return wake.NewLocal(), nil
	}
	return wake.NewPostgres(ctx, g.db, log)
}

// tuneGC lets the heap grow to five times its live size between collections,
// under a soft limit that keeps serve well inside its memory budget. The
// live heap of serve is small and every request churns it, so Go's default
// collects far more often than memory requires: on the check-in benchmark
// this saves about a tenth of the CPU (BENCHMARKS.md). An operator's own
// GOGC or GOMEMLIMIT wins.
func (c *cli) tuneGC() {
	if c.getenv("GOGC") == "" && c.getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(96 << 20)
	}
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func listenAndServe(s *http.Server, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics address: %w", err)
	}
	return s.Serve(ln)
}

// runWorkers starts the background work of one instance; it stops when ctx
// ends, and the returned group says when all of it has.
// servicePusher is the outbox's pusher, set to the service after the
// service, which is built with the outbox's worker, is made; the worker
// pushes only once it runs.
type servicePusher struct{ *service.Service }

func runWorkers(ctx context.Context, svc *service.Service, messages *outbox.Worker, log *slog.Logger) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	wg.Go(func() { messages.Run(ctx) })
	wg.Go(func() {
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := svc.Housekeep(ctx); err != nil && ctx.Err() == nil {
					log.Error("housekeeping", "err", err)
				}
			}
		}
	})
	return &wg
}

// tlsConfig decides how serve speaks: plain HTTP on loopback, the given
// certificate, or a self-signed one made for a first run on the network.
func (c *cli) tlsConfig(g globals, f serveFlags, addr net.Addr) (*tls.Config, string, error) {
	certFile, keyFile, note := f.tlsCert, f.tlsKey, ""
	tcp, _ := addr.(*net.TCPAddr)
	if certFile == "" {
		if tcp != nil && tcp.IP.IsLoopback() {
			return nil, "", nil
		}
		host := ""
		if tcp != nil && !tcp.IP.IsUnspecified() {
			host = tcp.IP.String()
		}
		var made bool
		var err error
		certFile, keyFile, made, err = selfsigned.Ensure(filepath.Join(g.data, "tls"), []string{host, "localhost"}, time.Now())
		if err != nil {
			return nil, "", fmt.Errorf("making a self-signed certificate: %w", err)
		}
		note = fmt.Sprintf("Serving HTTPS with the self-signed certificate in %s; browsers will warn until you give --tls-cert and --tls-key.", certFile)
		if made {
			note = "Made a self-signed certificate. " + note
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("loading the TLS certificate: %w", err)
	}
	// Apple devices show their identity as a client certificate; asked
	// for, not required nor verified here, so that browsers need none and
	// a device whose certificate the server no longer accepts gets the
	// MDM endpoints' 401, which makes it remove its enrollment.
	return &tls.Config{
		Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"},
		ClientAuth: tls.RequestClientCert,
	}, note, nil
}

// appleConfig loads the CA that issues Apple device identities, made in
// the data directory on first use unless the administrator gave one, and
// the identity that signs enrollment profiles: the one given for it, else
// the server's TLS certificate, which devices must also be told to trust
// when it is the self-signed one. Behind a proxy that ends TLS, without a
// signing identity, profiles go unsigned, which the log says.
func appleConfig(g globals, f serveFlags, tlsConfig *tls.Config, log *slog.Logger) (*service.AppleConfig, error) {
	var cfg service.AppleConfig
	var err error
	if f.scepCACert != "" {
		if cfg.CA, err = applemdm.LoadCA(f.scepCACert, f.scepCAKey); err != nil {
			return nil, err
		}
	} else {
		dir := filepath.Join(g.data, "apple")
		var made bool
		if cfg.CA, made, err = applemdm.LoadOrCreateCA(dir, time.Now()); err != nil {
			return nil, fmt.Errorf("making the CA for Apple devices: %w", err)
		}
		if made {
			log.Info("made the CA that issues Apple device identities; back up the data directory's apple/ with the database", "path", dir)
		}
	}
	if f.profileSigningCert != "" {
		signer, err := tls.LoadX509KeyPair(f.profileSigningCert, f.profileSigningKey)
		if err != nil {
			return nil, fmt.Errorf("the profile signing identity: %w", err)
		}
		cfg.Signer = &signer
		return &cfg, nil
	}
	if tlsConfig == nil {
		log.Warn("Apple enrollment profiles will be unsigned: devices show them as not verified; give --profile-signing-cert and --profile-signing-key")
		return &cfg, nil
	}
	cfg.Signer = &tlsConfig.Certificates[0]
	if f.tlsCert == "" {
		if cfg.TrustRoot, err = x509.ParseCertificate(cfg.Signer.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return &cfg, nil
}

// apnsTarget is where pushes go: Apple's service unless --apns-url names
// a stand-in, verified by the system's roots or by --apns-ca.
func apnsTarget(f serveFlags) (string, *x509.CertPool, error) {
	if f.apnsURL != "" {
		u, err := url.Parse(f.apnsURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return "", nil, usageError(fmt.Sprintf("--apns-url %q is not an https:// URL", f.apnsURL))
		}
	}
	if f.apnsCA == "" {
		return f.apnsURL, nil, nil
	}
	certs, err := pemCertificates("--apns-ca", f.apnsCA)
	if err != nil {
		return "", nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return f.apnsURL, pool, nil
}

// secure says whether browsers reach serve over HTTPS: when it terminates
// TLS itself, or when a proxy in front does, which only the base URL tells.
func secure(tlsConfig *tls.Config, baseURL string) bool {
	u, err := url.Parse(baseURL)
	return tlsConfig != nil || (err == nil && strings.EqualFold(u.Scheme, "https"))
}

func listenURL(a net.Addr, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return scheme + "://" + a.String() + "/"
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("%s://%s/", scheme, net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}
