// Package web is the plumbing every door shares: a mux on which each route
// declares who may call it, handlers that return errors, one mapping from
// application errors to HTTP statuses, browser sessions, and middleware.
package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-mdm/portico"
)

// Access says who may call a route. There is no default: a route is
// registered with its access or not at all (deny by default).
type Access int

const (
	// Public routes need nothing: health, static files, device registration.
	Public Access = iota
	// Visitor routes are browser pages anyone may open, with a session and
	// cross-origin protection: the sign-in page, the registration page.
	Visitor
	// SignedIn routes need a user's browser session.
	SignedIn
	// Admin routes need an administrator's browser session.
	Admin
	// Device routes need a device token.
	Device
	// Operator routes need the operator's bearer token (metrics).
	Operator
	// APIRead routes need an admin API key of any scope. Only GET (and
	// with it HEAD) routes may be APIRead: Handle refuses any other.
	APIRead
	// APIWrite routes need a read-write admin API key.
	APIWrite
	// AppleDevice routes need an Apple device's identity: its TLS client
	// certificate or its Mdm-Signature.
	AppleDevice
)

var accessNames = map[Access]string{
	Public: "public", Visitor: "visitor", SignedIn: "signed-in", Admin: "admin",
	Device: "device", Operator: "operator", APIRead: "api-read", APIWrite: "api-write",
	AppleDevice: "apple-device",
}

func (a Access) String() string { return accessNames[a] }

// Guard wraps a handler with the check for one access level.
type Guard func(http.Handler) http.Handler

// Route is a registered pattern and who may call it.
type Route struct {
	Pattern string
	Access  Access
}

// Mux is an http.ServeMux that knows who may call each route.
type Mux struct {
	mux    *http.ServeMux
	guards map[Access]Guard
	routes []Route
}

// NewMux returns a mux that protects each access level but Public with its
// guard.
func NewMux(guards map[Access]Guard) *Mux {
	return &Mux{mux: http.NewServeMux(), guards: guards}
}

// Handle registers h for pattern behind the guard for access. It panics at
// start-up when no guard exists for the level, so a route can never be
// served unguarded by mistake, and when an APIRead route takes a method
// that may change something, so a read-only key can never write.
func (m *Mux) Handle(pattern string, access Access, h http.Handler) {
	if method, _, _ := strings.Cut(pattern, " "); access == APIRead && method != http.MethodGet && method != http.MethodHead {
		panic(fmt.Sprintf("web: %q cannot be an %s route: only GET and HEAD routes may be", pattern, access))
	}
	if access != Public {
		g, ok := m.guards[access]
		if !ok {
			panic(fmt.Sprintf("web: no guard for %s routes (registering %q)", access, pattern))
		}
		h = g(h)
	}
	m.routes = append(m.routes, Route{Pattern: pattern, Access: access})
	m.mux.Handle(pattern, h)
}

// Routes lists every registered route, for the test that walks them all.
func (m *Mux) Routes() []Route { return slices.Clone(m.routes) }

func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// HandlerFunc is a handler that returns its error instead of writing it, so
// that one adapter per format writes every error the same way.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Status is the HTTP status for an error: the only place where application
// error codes become statuses.
func Status(err error) int {
	switch portico.ErrorCode(err) {
	case portico.EINVALID:
		return http.StatusBadRequest
	case portico.EUNAUTHENTICATED:
		return http.StatusUnauthorized
	case portico.EFORBIDDEN:
		return http.StatusForbidden
	case portico.ENOTFOUND:
		return http.StatusNotFound
	case portico.ECONFLICT:
		return http.StatusConflict
	case portico.ETHROTTLED:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// LogError logs an error that is the server's fault with its detail; the
// client only ever sees portico.ErrorMessage.
func LogError(r *http.Request, err error) {
	if portico.ErrorCode(err) == portico.EINTERNAL {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

// JSON adapts a handler whose errors are written as
// {"error": {"code": …, "message": …}}.
func JSON(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			LogError(r, err)
			WriteJSONError(w, Status(err), portico.ErrorCode(err), portico.ErrorMessage(err))
		}
	})
}

// WriteJSON writes v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// WriteJSONError writes the JSON error body every API shares.
func WriteJSONError(w http.ResponseWriter, status int, code, message string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	WriteJSON(w, status, map[string]body{"error": {Code: code, Message: message}})
}

// DecodeJSON reads a JSON body of at most max bytes into v, refusing unknown
// fields and trailing data with a message that says what was wrong.
func DecodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return portico.Errorf(portico.EINVALID, "The request body is larger than %d bytes.", max)
		}
		return portico.Errorf(portico.EINVALID, "The request body is not valid JSON for this call: %s.", err)
	}
	if dec.More() {
		return portico.Errorf(portico.EINVALID, "The request body has data after the JSON value.")
	}
	return nil
}

// maxFormBytes bounds every browser form; none of Portico's forms comes
// near it, and file uploads read their own, larger, limit.
const maxFormBytes = 64 << 10

// ParseForm reads a browser form of bounded size.
func ParseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return portico.Errorf(portico.EINVALID, "The form could not be read; it may be larger than %d KiB.", maxFormBytes>>10)
	}
	return nil
}

// PathID returns the numeric path value name. A value that is not a
// number names nothing, so it is ENOTFOUND like a number that names nothing.
func PathID(r *http.Request, name, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, portico.Errorf(portico.ENOTFOUND, "There is no %s %q.", what, r.PathValue(name))
	}
	return id, nil
}
