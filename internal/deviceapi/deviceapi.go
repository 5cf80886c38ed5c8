// Package deviceapi is the JSON API that device agents speak under
// /api/device/v1/ (SPEC AGENT-1): register, check in, report results. Each
// handler decodes, calls one service method and encodes; the rules live in
// internal/service. The OpenAPI document beside this file describes it for
// the agents' authors and is served at /api/device/v1/openapi.yaml.
package deviceapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/wake"
	"github.com/portico-mdm/portico/internal/web"
)

// Prefix is where the API lives.
const Prefix = "/api/device/v1"

// maxBody bounds a request body; the largest legitimate one is a command
// result with its 64 KiB of data.
const maxBody = 80 << 10

//go:embed openapi.yaml
var openAPI []byte

// RegisterRequest is what an agent sends to register its device: the
// user's password or a registration PIN, and the token of the registration
// link it was opened with, if any.
type RegisterRequest struct {
	Username string                `json:"username"`
	Password string                `json:"password,omitempty"`
	Code     string                `json:"code,omitempty"`
	PIN      string                `json:"pin,omitempty"`
	Token    string                `json:"token,omitempty"`
	Platform portico.Platform      `json:"platform"`
	Device   portico.DeviceDetails `json:"device"`
}

// RegisterResponse carries the device's token, which the server shows only
// this once.
type RegisterResponse struct {
	DeviceID    int64  `json:"device_id"`
	DeviceToken string `json:"device_token"`
}

// CheckinRequest carries the details the device reports about itself.
type CheckinRequest struct {
	Device portico.DeviceDetails `json:"device"`
}

// CheckinResponse lists the commands the device must now carry out.
type CheckinResponse struct {
	Commands []Command `json:"commands"`
}

// Command is a command as a device receives it: what to do, without the
// bookkeeping the portal shows.
type Command struct {
	ID        int64               `json:"id"`
	Kind      portico.CommandKind `json:"kind"`
	Payload   json.RawMessage     `json:"payload,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
}

// WaitRequest is the optional body of a wait: how long to wait at most.
type WaitRequest struct {
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// WaitResponse says whether the device was woken (a command waits: check in
// now) or the wait timed out.
type WaitResponse struct {
	Wake bool `json:"wake"`
}

// The bounds of a wait. The longest stays under the idle timeouts of
// common proxies and load balancers.
const (
	defaultWait = 30 * time.Second
	maxWait     = 120 * time.Second
)

// API serves the device API.
type API struct {
	svc      *service.Service
	hub      wake.Hub
	draining chan struct{}
	drain    sync.Once
}

// New returns the API over the service; waiting devices are woken through
// the hub.
func New(svc *service.Service, hub wake.Hub) *API {
	return &API{svc: svc, hub: hub, draining: make(chan struct{})}
}

// Drain ends every wait now and every later one at once, so that a
// graceful shutdown does not wait for them. The devices then check in,
// with another instance or after the restart.
func (a *API) Drain() { a.drain.Do(func() { close(a.draining) }) }

// Guard admits requests whose bearer token is an active device's, with that
// device as the actor; anything else gets a 401 in the API's error format.
func (a *API) Guard() web.Guard {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, err := a.authenticate(r)
			if err != nil {
				web.RefuseJSON(w, r, err)
				return
			}
			actor := portico.ActorFromContext(r.Context())
			actor.Device = d
			next.ServeHTTP(w, r.WithContext(portico.NewContextWithActor(r.Context(), actor)))
		})
	}
}

func (a *API) authenticate(r *http.Request) (*portico.Device, error) {
	token := web.BearerToken(r)
	if token == "" {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "A device token is required: send \"Authorization: Bearer <device_token>\".")
	}
	return a.svc.AuthenticateDevice(r.Context(), token)
}

// Register adds the API's routes to the mux.
func (a *API) Register(mux *web.Mux) {
	routes := []struct {
		pattern string
		access  web.Access
		h       http.Handler
	}{
		{"POST " + Prefix + "/register", web.Public, web.JSON(a.register)},
		{"POST " + Prefix + "/checkin", web.Device, web.JSON(a.checkin)},
		{"POST " + Prefix + "/commands/{id}/result", web.Device, web.JSON(a.result)},
		{"POST " + Prefix + "/wait", web.Device, web.JSON(a.wait)},
		{"POST " + Prefix + "/passcode-recovery", web.Device, web.JSON(a.recoverPasscode)},
		{"GET " + Prefix + "/openapi.yaml", web.Public, http.HandlerFunc(serveOpenAPI)},
	}
	known := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.pattern, rt.access, rt.h)
		known.Handle(rt.pattern, http.NotFoundHandler())
	}
	mux.Handle(Prefix+"/", web.Public, web.UnmatchedJSON(known, "the device API"))
}

func (a *API) register(w http.ResponseWriter, r *http.Request) error {
	var req RegisterRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	d, token, err := a.svc.RegisterDevice(r.Context(), service.Registration{
		Username: req.Username, Password: req.Password, Code: req.Code, PIN: req.PIN, Token: req.Token,
		Platform: req.Platform, Details: req.Device,
	})
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, RegisterResponse{DeviceID: d.ID, DeviceToken: token})
}

func (a *API) checkin(w http.ResponseWriter, r *http.Request) error {
	// A pointer tells a missing device from one with empty details: the
	// service stores what it is given, so a bare {} would erase them.
	var req struct {
		Device *portico.DeviceDetails `json:"device"`
	}
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	if req.Device == nil {
		return portico.Errorf(portico.EINVALID, "device is required: send the device's details.")
	}
	cmds, err := a.svc.Checkin(r.Context(), *req.Device)
	if err != nil {
		return err
	}
	res := CheckinResponse{Commands: make([]Command, len(cmds))}
	for i, c := range cmds {
		res.Commands[i] = Command{ID: c.ID, Kind: c.Kind, Payload: c.Payload, CreatedAt: c.CreatedAt}
	}
	return web.WriteJSON(w, http.StatusOK, res)
}

func (a *API) result(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return portico.Errorf(portico.EINVALID, "%q is not a command id; a command id is a positive whole number.", r.PathValue("id"))
	}
	var res portico.CommandResult
	if err := web.DecodeJSON(w, r, maxBody, &res); err != nil {
		return err
	}
	c, err := a.svc.ReportResult(r.Context(), id, res)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, c)
}

// wait holds the request until the device is woken or the timeout passes
// (SPEC ACT-7): the agent then checks in to collect its commands.
func (a *API) wait(w http.ResponseWriter, r *http.Request) error {
	timeout, err := waitTimeout(w, r)
	if err != nil {
		return err
	}
	d := portico.ActorFromContext(r.Context()).Device
	// Subscribing before looking at the queue leaves no moment in which a
	// command could be queued unseen.
	woken, stop := a.hub.Subscribe(d.ID)
	defer stop()
	pending, err := a.svc.HasQueuedCommands(r.Context())
	if err != nil {
		return err
	}
	if pending {
		return web.WriteJSON(w, http.StatusOK, WaitResponse{Wake: true})
	}
	// The answer must get out after the wait, whatever write timeout the
	// server has. A writer that cannot set deadlines has none to lift.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + 10*time.Second)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var res WaitResponse
	select {
	case <-woken:
		res.Wake = true
	case <-timer.C:
	case <-a.draining:
	case <-r.Context().Done():
		return nil // the device hung up: no one reads an answer
	}
	return web.WriteJSON(w, http.StatusOK, res)
}

// waitTimeout reads the optional body of a wait.
func waitTimeout(w http.ResponseWriter, r *http.Request) (time.Duration, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<10))
	if err != nil {
		return 0, portico.Errorf(portico.EINVALID, "The request body is larger than 1 KiB.")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return defaultWait, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	// A pointer tells a missing timeout, which takes the default, from 0.
	var req struct {
		TimeoutSeconds *int `json:"timeout_seconds"`
	}
	if err := web.DecodeJSON(w, r, 1<<10, &req); err != nil {
		return 0, err
	}
	switch s := req.TimeoutSeconds; {
	case s == nil:
		return defaultWait, nil
	case *s < 1 || *s > int(maxWait/time.Second):
		return 0, portico.Errorf(portico.EINVALID, "timeout_seconds is from 1 to %d, not %d.", int(maxWait/time.Second), *s)
	default:
		return time.Duration(*s) * time.Second, nil
	}
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPI)
}
