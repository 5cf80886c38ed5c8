package wake

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// channel is the PostgreSQL notification channel of wake-ups. Channel
// names are global to a database, so instances whose schemas share one
// database also wake each other's devices; device ids may then match a
// device of another schema, which only makes that device check in once
// for nothing.
const channel = "portico_wake"

// Back-off between attempts to listen again after the connection failed.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Postgres shares wake-ups between every instance on one PostgreSQL
// database with LISTEN/NOTIFY: Publish notifies, and each instance listens
// on a dedicated connection and wakes its own subscribers.
type Postgres struct {
	local *Local
	dsn   string
	log   *slog.Logger
	// db sends the notifications; the listening connection cannot, as it
	// is busy waiting for them.
	db *sql.DB
}

var _ Hub = (*Postgres)(nil)

// NewPostgres connects to the database at dsn (a postgres:// URL, which may
// carry search_path: it does not matter here) and listens until ctx ends.
// It fails when the first connection does, so that a bad URL stops serve
// at start; later failures are retried with back-off.
func NewPostgres(ctx context.Context, dsn string, log *slog.Logger) (*Postgres, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := listen(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("listening for wake-ups on PostgreSQL: %w", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	p := &Postgres{local: NewLocal(), dsn: dsn, log: log, db: db}
	go p.run(ctx, conn)
	return p, nil
}

// Publish notifies every instance, this one included: its own listener
// wakes the local subscribers, so that each wake-up arrives once. When the
// notification cannot be sent, the local subscribers are woken directly
// and the error is returned.
func (p *Postgres) Publish(ctx context.Context, deviceID int64) error {
	_, err := p.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, strconv.FormatInt(deviceID, 10))
	if err != nil {
		p.local.wake(deviceID)
		return fmt.Errorf("notifying the other instances: %w", err)
	}
	return nil
}

// Subscribe subscribes on this instance.
func (p *Postgres) Subscribe(deviceID int64) (<-chan struct{}, func()) {
	return p.local.Subscribe(deviceID)
}

func listen(ctx context.Context, dsn string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// run relays notifications to the local subscribers until ctx ends,
// connecting again whenever the connection fails.
func (p *Postgres) run(ctx context.Context, conn *pgx.Conn) {
	defer p.db.Close()
	backoff := minBackoff
	for {
		err := p.relay(ctx, conn)
		conn.Close(context.Background())
		for ctx.Err() == nil {
			p.log.Warn("wake-ups: the PostgreSQL connection failed; listening again", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			if conn, err = listen(ctx, p.dsn); err == nil {
				break
			}
			backoff = min(2*backoff, maxBackoff)
		}
		if ctx.Err() != nil {
			return
		}
		backoff = minBackoff
		p.log.Info("wake-ups: listening on PostgreSQL again")
		// A wake-up may have been sent while no one listened: every waiting
		// device checks in, and finds its commands if it had any.
		p.local.wakeAll()
	}
}

// relay wakes the subscribers of each device notified on conn until the
// connection fails or ctx ends.
func (p *Postgres) relay(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			p.log.Warn("wake-ups: a notification that names no device", "payload", n.Payload)
			continue
		}
		p.local.wake(id)
	}
}
