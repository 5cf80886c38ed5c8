// Package portico holds Portico's domain: users, roles, devices, commands,
// settings and the audit log, with the errors and the acting identity that
// every part of the program shares. It depends on the standard library only;
// implementations live in internal/ packages named after what they wrap.
package portico

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Error codes. Each door (portal, admin, APIs) turns them into its own
// status in exactly one place, so a rule written once in the service refuses
// the same way everywhere.
const (
	EINVALID         = "invalid"
	EUNAUTHENTICATED = "unauthenticated"
	EFORBIDDEN       = "forbidden"
	ENOTFOUND        = "not_found"
	ECONFLICT        = "conflict"
	ETHROTTLED       = "throttled"
	EINTERNAL        = "internal"
)

// Error is an application error whose message is safe to show to the person
// who caused it.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("portico: %s: %s", e.Code, e.Message) }

// Errorf returns an application error with a message for the user.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an application error, or EINTERNAL for any
// other error, whose text must never reach a user.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of an application error and a
// generic one for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side. Please try again, or contact the helpdesk."
}

// Actor is who is acting: a signed-in user, a device, or the operator at the
// command line (System), together with the source address for the audit log.
type Actor struct {
	User   *User
	Device *Device
	System bool
	// APIKey is an admin API key: it acts with an administrator's rights,
	// within its scope, which the API's routes enforce.
	APIKey *APIKey
	Source string
}

// Name is how the audit log names the actor.
func (a Actor) Name() string {
	switch {
	case a.User != nil:
		return a.User.Username
	case a.Device != nil:
		return fmt.Sprintf("device:%d", a.Device.ID)
	case a.APIKey != nil:
		return a.APIKey.ActorName()
	case a.System:
		return "system"
	}
	return "anonymous"
}

// IsAdmin reports whether the actor may act on anything.
func (a Actor) IsAdmin() bool { return a.System || a.APIKey != nil || (a.User != nil && a.User.Admin) }

type actorKey struct{}

// NewContextWithActor returns a context that carries the actor.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor in the context; the zero Actor is an
// anonymous caller that may do nothing but public things.
func ActorFromContext(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// Clock is injected everywhere time matters so tests can move it.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }
