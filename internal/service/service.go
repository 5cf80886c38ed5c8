// Package service holds every rule of Portico: who may do what, which switch
// must be on, what is audited, what is written together. The doors (portal,
// admin portal, APIs) decode a request, call one method here and encode the
// answer; nothing here knows about HTTP or SQL.
package service

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/wake"
)

// Config is what a Service is built from.
type Config struct {
	Store     store.Store
	Clock     portico.Clock
	Passwords secret.Params
	Log       *slog.Logger
	// CheckinFlush is how often the batched last check-in times are written.
	CheckinFlush time.Duration
	// TestSender sends the admin portal's test messages: the worker that
	// delivers the outbox, so that a test goes exactly as every other
	// message does. Nil refuses test messages.
	TestSender TestSender
	// BaseURL is where people and devices reach Portico, ending in "/": the
	// registration links in invitations start with it.
	BaseURL string
	// Backups takes and checks backups; nil where Portico does not (PostgreSQL).
	Backups Backups
	// Wake tells a waiting device that a command is queued for it; nil
	// leaves devices to find their commands at their next check-in.
	Wake wake.Hub
	// Sealer seals users' certificates at rest; nil refuses them.
	Sealer Sealer
	// APNsURL is Apple's push service, apns.Production unless a test
	// names its stand-in; APNsRootCAs verifies it (nil: the system's).
	APNsURL     string
	APNsRootCAs *x509.CertPool
	// Apple is what Apple MDM stands on; nil leaves Apple devices unable
	// to enroll.
	Apple *AppleConfig
}

// Service is Portico's business logic.
type Service struct {
	store     store.Store
	clock     portico.Clock
	passwords secret.Params
	log       *slog.Logger
	baseURL   string
	backups   Backups
	wake      wake.Hub
	sealer    Sealer
	push      pushClients
	apple     *AppleConfig
	parsing   chan struct{}
	backingUp chan struct{} // one backup taken or checked at a time
	seen      *checkinBatch
	// dummyHash keeps a failed look-up as slow as a wrong password, so the
	// time a login takes does not tell whether the user exists.
	dummyHash string
	// outbox sends the admin portal's test messages the way the outbox's
	// workers send every other.
	outbox TestSender
}

// New returns a Service. Call Run to write batched check-ins in the
// background, and Flush before the process exits.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = portico.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.CheckinFlush == 0 {
		cfg.CheckinFlush = time.Second
	}
	return &Service{
		store:     cfg.Store,
		clock:     cfg.Clock,
		passwords: cfg.Passwords,
		log:       cfg.Log,
		baseURL:   strings.TrimSuffix(cfg.BaseURL, "/") + "/",
		backups:   cfg.Backups,
		wake:      cfg.Wake,
		sealer:    cfg.Sealer,
		outbox:    cfg.TestSender,
		push:      pushClients{baseURL: cfg.APNsURL, rootCAs: cfg.APNsRootCAs},
		apple:     cfg.Apple,
		parsing:   make(chan struct{}, 1),
		backingUp: make(chan struct{}, 1),
		seen:      &checkinBatch{every: cfg.CheckinFlush, pending: map[int64]time.Time{}},
		dummyHash: cfg.Passwords.HashPassword("portico-dummy-password"),
	}
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// audit appends an entry for the actor in ctx through st, which is the
// transaction of the action it records when there is one.
func (s *Service) audit(ctx context.Context, st store.Store, e portico.AuditEntry) error {
	a := portico.ActorFromContext(ctx)
	e.At = s.clock.Now()
	e.Actor = a.Name()
	e.Source = a.Source
	if e.Result == "" {
		e.Result = portico.ResultOK
	}
	return st.AppendAudit(ctx, &e)
}

// auditRefusal records a refused attempt. A refusal's own audit failing must
// not hide the refusal, so its error is only logged. Throttled attempts are
// not recorded one by one: they cost the server nothing else, and a flood of
// them must not flood the log; the failures that led to the lock-out are
// recorded.
func (s *Service) auditRefusal(ctx context.Context, e portico.AuditEntry, cause error) {
	if portico.ErrorCode(cause) == portico.ETHROTTLED {
		return
	}
	if e.Result == "" {
		e.Result = portico.ResultDenied
	}
	if len(e.Target) > maxAuditTarget {
		e.Target = e.Target[:maxAuditTarget] + "…"
	}
	e.Target = strings.ToValidUTF8(e.Target, "?")
	e.Detail = portico.ErrorMessage(cause)
	if err := s.audit(ctx, s.store, e); err != nil {
		s.log.ErrorContext(ctx, "audit refusal", "action", e.Action, "err", err)
	}
}

func signedInUser(ctx context.Context) (*portico.User, error) {
	a := portico.ActorFromContext(ctx)
	if a.User == nil {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "Please sign in.")
	}
	return a.User, nil
}

func requireAdmin(ctx context.Context) error {
	a := portico.ActorFromContext(ctx)
	if a.IsAdmin() {
		return nil
	}
	if a.User == nil {
		return portico.Errorf(portico.EUNAUTHENTICATED, "Please sign in.")
	}
	return portico.Errorf(portico.EFORBIDDEN, "Only administrators may do this.")
}

// maxAuditTarget bounds what a refused caller can make the audit log keep
// of what it typed (a user name, say).
const maxAuditTarget = 100

// pushClients holds the client of the current push certificate.
type pushClients struct {
	baseURL     string
	rootCAs     *x509.CertPool
	mu          sync.Mutex
	client      *apns.Client
	fingerprint string
}

// checkinBatch collects last check-in times so that a check-in costs a
// read, not a write; the times are rebuilt by the next check-in if lost.
type checkinBatch struct {
	every   time.Duration
	mu      sync.Mutex
	pending map[int64]time.Time
}

func (b *checkinBatch) add(id int64, at time.Time) {
	b.mu.Lock()
	b.pending[id] = at
	b.mu.Unlock()
}

func (b *checkinBatch) take() map[int64]time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil
	}
	p := b.pending
	b.pending = make(map[int64]time.Time, len(p))
	return p
}

// Run writes batched check-in times, and releases and expires commands,
// until ctx ends; then it writes the remaining check-in times.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.seen.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			s.Flush(ctx)
			if err := s.AdvanceCommands(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "advancing commands", "err", err)
			}
		}
	}
}

// maxLockout is the longest lock-out the settings allow; failed sign-ins
// older than it count for nothing.
const maxLockout = 24 * time.Hour

// messageRetention is how long delivered (or failed) mail and SMS stay in
// the outbox for admins to read; their text may hold registration links.
const messageRetention = 30 * 24 * time.Hour

// Housekeep forgets what no longer matters: expired browser sessions,
// failed sign-ins older than any lock-out, registrations whose time ran
// out, delivered messages past their retention, and requests for derived
// credentials that expired unanswered.
func (s *Service) Housekeep(ctx context.Context) error {
	now := s.clock.Now()
	return errors.Join(
		s.store.DeleteExpiredSessions(ctx, now),
		s.store.DeleteLoginFailuresBefore(ctx, now.Add(-maxLockout)),
		s.expireRegistrations(ctx),
		s.store.DeleteFinishedMessages(ctx, now.Add(-messageRetention)),
		s.store.DeleteExpiredDerivedRequests(ctx, now),
	)
}

// Flush writes the batched check-in times now.
func (s *Service) Flush(ctx context.Context) {
	p := s.seen.take()
	if p == nil {
		return
	}
	if err := s.store.TouchDevices(ctx, p); err != nil {
		s.log.ErrorContext(ctx, "write check-in times", "devices", len(p), "err", err)
	}
}
