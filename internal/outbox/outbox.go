// Package outbox delivers the messages of the outbox (SPEC OPS-2): mail
// over SMTP and SMS over an HTTP gateway. A message is written with the
// action that causes it; the workers here claim it, try it, and record the
// outcome, retrying with a growing back-off until they give up. A channel
// with no gateway in the settings is left alone: its messages stay pending
// at /admin/outbox, where admins can read them.
package outbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

const (
	// pollEvery is how often a worker looks for due messages.
	pollEvery = time.Second
	// sendTimeout bounds one try, connecting included.
	sendTimeout = 30 * time.Second
	// lease is how long a claimed message is left to its worker. It is well
	// over sendTimeout, so that only a worker that died loses its lease.
	lease = 4 * sendTimeout
	// maxAttempts tries, with the back-off below, span about three hours:
	// enough to ride out a gateway's restart or a short outage.
	maxAttempts  = 10
	firstBackoff = 30 * time.Second
	maxBackoff   = time.Hour
	// maxErrorLength keeps a gateway's long answer from filling the table.
	maxErrorLength = 1000
)

// Channels are the channels the outbox delivers.
var Channels = []portico.Channel{portico.ChannelMail, portico.ChannelSMS}

// Store is what the workers need of the store.
type Store interface {
	store.Outbox
	store.Settings
}

// Config is what a Worker is built from.
type Config struct {
	Store Store
	Clock portico.Clock
	Log   *slog.Logger
	// RootCAs verifies the certificates of the mail server and the SMS
	// gateway; nil trusts the system's.
	RootCAs *x509.CertPool
}

// Worker delivers the outbox's messages.
type Worker struct {
	store   Store
	clock   portico.Clock
	log     *slog.Logger
	rootCAs *x509.CertPool
	http    *http.Client
}

// New returns a Worker; call Run to start it.
func New(cfg Config) *Worker {
	if cfg.Clock == nil {
		cfg.Clock = portico.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	return &Worker{
		store: cfg.Store, clock: cfg.Clock, log: cfg.Log, rootCAs: cfg.RootCAs,
		http: &http.Client{Transport: transport},
	}
}

// Backoff is how long a message waits after its nth failed try: 30 s,
// 1 min, 2 min … doubling up to an hour.
func Backoff(attempt int) time.Duration {
	d := firstBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// Run delivers until ctx ends, one loop per channel, so that a mail server
// that does not answer holds up no SMS.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ch := range Channels {
		wg.Go(func() {
			t := time.NewTicker(pollEvery)
			defer t.Stop()
			for {
				if err := w.drain(ctx, ch); err != nil && ctx.Err() == nil {
					w.log.ErrorContext(ctx, "outbox: reading the outbox", "channel", ch, "err", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
}

// RunOnce delivers every message that is due now, channel by channel.
func (w *Worker) RunOnce(ctx context.Context) error {
	var errs []error
	for _, ch := range Channels {
		errs = append(errs, w.drain(ctx, ch))
	}
	return errors.Join(errs...)
}

// sender delivers one message with the settings it was made from.
type sender func(context.Context, *portico.Message) error

func (w *Worker) sender(v portico.SettingValues, ch portico.Channel) sender {
	if !v.HasGateway(ch) {
		return nil
	}
	switch ch {
	case portico.ChannelMail:
		return func(ctx context.Context, m *portico.Message) error { return sendMail(ctx, v, w.rootCAs, m) }
	case portico.ChannelSMS:
		return func(ctx context.Context, m *portico.Message) error { return sendSMS(ctx, w.http, v, m) }
	}
	return nil
}

// drain tries the channel's due messages one at a time, so that a claim's
// lease covers one try. The settings are read before every message, so a
// change takes effect without a restart.
func (w *Worker) drain(ctx context.Context, ch portico.Channel) error {
	for ctx.Err() == nil {
		v, err := w.store.SettingValues(ctx)
		if err != nil {
			return err
		}
		send := w.sender(v, ch)
		if send == nil {
			return nil
		}
		msgs, err := w.store.ClaimMessages(ctx, []portico.Channel{ch}, w.clock.Now(), lease, 1)
		if err != nil || len(msgs) == 0 {
			return err
		}
		w.try(ctx, msgs[0], send)
	}
	return nil
}

// try sends m and records the outcome. The outcome is recorded even when
// ctx ends meanwhile, so that a shutdown leaves no message claimed for a
// lease it no longer uses.
func (w *Worker) try(ctx context.Context, m *portico.Message, send sender) {
	sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
	err := send(sendCtx, m)
	cancel()
	ctx = context.WithoutCancel(ctx)
	now := w.clock.Now()
	log := w.log.With("message", m.ID, "channel", m.Channel, "attempt", m.Attempts)
	var recordErr error
	switch {
	case err == nil:
		// Marked sent at once, and never tried again. Should the process
		// die between the send and this write, the lease runs out and the
		// message goes a second time: delivery is at least once, never lost.
		log.InfoContext(ctx, "outbox: sent")
		recordErr = w.store.MarkMessageSent(ctx, m, now)
	case m.Attempts >= maxAttempts:
		log.ErrorContext(ctx, "outbox: giving up after the last try", "err", loggable(err))
		recordErr = w.store.FailMessage(ctx, m, errorText(err))
	default:
		next := Backoff(m.Attempts)
		log.WarnContext(ctx, "outbox: try failed", "retry_in", next.String(), "err", loggable(err))
		recordErr = w.store.RetryMessage(ctx, m, errorText(err), now.Add(next))
	}
	if recordErr != nil {
		log.ErrorContext(ctx, "outbox: recording the outcome of a try", "err", recordErr)
	}
}

// gatewayError is a gateway's refusal. Its answer goes to the outbox, where
// admins read it beside the message anyway, but never to the log: a gateway
// may echo the request, and with it a registration PIN or link.
type gatewayError struct {
	status string
	answer string
}

func (e *gatewayError) Error() string {
	if e.answer == "" {
		return "the gateway answered " + e.status
	}
	return "the gateway answered " + e.status + ": " + e.answer
}

// loggable is what the log may say of a failed try.
func loggable(err error) string {
	var ge *gatewayError
	if errors.As(err, &ge) {
		return "the gateway answered " + ge.status
	}
	return err.Error()
}

func errorText(err error) string {
	s := []rune(err.Error())
	if len(s) > maxErrorLength {
		return string(s[:maxErrorLength-1]) + "…"
	}
	return string(s)
}

// SendNow delivers m at once, outside the queue, through the same sender
// the queue uses, with the settings v: the admin portal's test message,
// which must say whether the gateway works and, if not, what it answered.
func (w *Worker) SendNow(ctx context.Context, v portico.SettingValues, m *portico.Message) error {
	send := w.sender(v, m.Channel)
	if send == nil {
		if m.Channel == portico.ChannelSMS {
			return portico.Errorf(portico.ECONFLICT, "No SMS gateway is set up: enter its URL and save the settings first.")
		}
		return portico.Errorf(portico.ECONFLICT, "No SMTP server is set up: enter it and save the settings first.")
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	return send(ctx, m)
}
