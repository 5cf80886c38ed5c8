// Package outbox delivers the messages of the outbox (SPEC OPS-2): mail
// over SMTP, SMS over an HTTP gateway, and the pushes that wake Apple
// devices (SPEC APPLE-1) through the service, which holds the push
// certificate. A message is written with the action that causes it; the
// workers here claim it, try it, and record the outcome, retrying with a
// growing back-off until they give up, or at once when no try can succeed
// (a device token Apple no longer knows). A channel with no gateway in the
// settings, or pushes without a push certificate, are left alone: their
// messages stay pending at /admin/outbox, where admins can read them.
package outbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"slices"
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

// Channels are the channels whose gateways are in the settings.
var Channels = []portico.Channel{portico.ChannelMail, portico.ChannelSMS}

// Pusher sends the pushes of the apns channel: the service, which holds
// the push certificate.
type Pusher interface {
	// PushReady reports whether a push certificate was uploaded; without
	// one, pushes wait.
	PushReady(ctx context.Context) (bool, error)
	// SendPush sends the push m holds.
	SendPush(ctx context.Context, m *portico.Message) error
	// PushTokenInvalid is told when Apple refused a device's token for
	// good, after its push was marked failed.
	PushTokenInvalid(ctx context.Context, deviceID int64, reason string) error
}

// permanent is an error that no later try can overcome, such as a device
// token Apple no longer knows: its message fails at once.
type permanent interface{ Permanent() bool }

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
	// Pusher sends pushes; nil leaves them pending.
	Pusher Pusher
}

// Worker delivers the outbox's messages.
type Worker struct {
	store   Store
	clock   portico.Clock
	log     *slog.Logger
	rootCAs *x509.CertPool
	http    *http.Client
	pusher  Pusher
	// channels are the channels this worker delivers.
	channels []portico.Channel
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
	w := &Worker{
		store: cfg.Store, clock: cfg.Clock, log: cfg.Log, rootCAs: cfg.RootCAs,
		http: &http.Client{Transport: transport}, pusher: cfg.Pusher, channels: Channels,
	}
	if cfg.Pusher != nil {
		w.channels = append(slices.Clone(Channels), portico.ChannelAPNs)
	}
	return w
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
// that does not answer holds up no SMS or push.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ch := range w.channels {
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
	for _, ch := range w.channels {
		errs = append(errs, w.drain(ctx, ch))
	}
	return errors.Join(errs...)
}

// sender delivers one message with the settings it was made from.
type sender func(context.Context, *portico.Message) error

func (w *Worker) sender(ctx context.Context, v portico.SettingValues, ch portico.Channel) (sender, error) {
	if ch == portico.ChannelAPNs {
		if ready, err := w.pusher.PushReady(ctx); !ready || err != nil {
			return nil, err
		}
		return w.pusher.SendPush, nil
	}
	if !v.HasGateway(ch) {
		return nil, nil
	}
	switch ch {
	case portico.ChannelMail:
		return func(ctx context.Context, m *portico.Message) error { return sendMail(ctx, v, w.rootCAs, m) }, nil
	case portico.ChannelSMS:
		return func(ctx context.Context, m *portico.Message) error { return sendSMS(ctx, w.http, v, m) }, nil
	}
	return nil, nil
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
		send, err := w.sender(ctx, v, ch)
		if send == nil || err != nil {
			return err
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
	var p permanent
	switch {
	case errors.As(err, &p) && p.Permanent():
		log.WarnContext(ctx, "outbox: refused for good", "err", loggable(err))
		if recordErr = w.store.FailMessage(ctx, m, errorText(err)); recordErr == nil && m.Channel == portico.ChannelAPNs {
			recordErr = w.pusher.PushTokenInvalid(ctx, m.DeviceID, errorText(err))
		}
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

// LogText is what a log or the audit log may keep of a failed delivery:
// a gateway's status without its answer, no longer than the outbox keeps.
func LogText(err error) string { return shorten(loggable(err)) }

func errorText(err error) string { return shorten(err.Error()) }

func shorten(text string) string {
	s := []rune(text)
	if len(s) > maxErrorLength {
		return string(s[:maxErrorLength-1]) + "…"
	}
	return string(s)
}

// SendNow delivers m at once, outside the queue, through the same sender
// the queue uses, with the settings v: the admin portal's test message,
// which must say whether the gateway works and, if not, what it answered.
func (w *Worker) SendNow(ctx context.Context, v portico.SettingValues, m *portico.Message) error {
	if m.Channel == portico.ChannelAPNs {
		return portico.Errorf(portico.EINVALID, "Pushes cannot be sent as a test message.")
	}
	send, err := w.sender(ctx, v, m.Channel)
	if err != nil {
		return err
	}
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
