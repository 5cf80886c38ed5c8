package deviceapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/deviceapi"
	"github.com/portico-mdm/portico/internal/deviceapi/deviceapitest"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
)

// call sends body to the API path with the token, if any, and returns the
// response with its body read.
func call(t *testing.T, e *servertest.Env, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+deviceapi.Prefix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

func register(t *testing.T, e *servertest.Env, user string) deviceapi.RegisterResponse {
	t.Helper()
	res, b := call(t, e, "POST", "/register", "", `{"username":"`+user+`","password":"`+servertest.Password(user)+`","platform":"ios",
		"device":{"name":"`+user+`'s iPhone","model":"iPhone 15 Pro","manufacturer":"Apple","os_version":"17.4.1",
		"phone_number":"+1 415 555 0142","carrier":"Verizon","imei":"356938035643809","serial":"F2LXK9Q7N1"}}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("registering: status %d: %s", res.StatusCode, b)
	}
	r := decode[deviceapi.RegisterResponse](t, b)
	if r.DeviceID < 1 || len(r.DeviceToken) < 43 {
		t.Fatalf("registering: %s", b)
	}
	return r
}

func checkin(t *testing.T, e *servertest.Env, token string) []deviceapi.Command {
	t.Helper()
	res, b := call(t, e, "POST", "/checkin", token, `{"device":{"name":"Work phone","model":"iPhone 15 Pro","os_version":"17.5.1"}}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("checking in: status %d: %s", res.StatusCode, b)
	}
	if !strings.Contains(string(b), `"commands":[`) {
		t.Fatalf("checking in: commands must be an array: %s", b)
	}
	return decode[deviceapi.CheckinResponse](t, b).Commands
}

func TestRegisterCheckinAndReportResult(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	reg := register(t, e, "alice")

	if cmds := checkin(t, e, reg.DeviceToken); len(cmds) != 0 {
		t.Fatalf("a new device has no commands, got %+v", cmds)
	}
	d, err := e.Service.Device(e.Op, reg.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Details.Name != "Work phone" || d.Details.OSVersion != "17.5.1" || d.Status != portico.StatusActive {
		t.Errorf("after the check-in the device is %+v", d)
	}

	lock := deviceapitest.Queue(t, e, reg.DeviceID, portico.CommandLock)
	locate := deviceapitest.Queue(t, e, reg.DeviceID, portico.CommandLocate)
	cmds := checkin(t, e, reg.DeviceToken)
	if len(cmds) != 2 || cmds[0].ID != lock.ID || cmds[0].Kind != portico.CommandLock || cmds[1].ID != locate.ID || cmds[0].CreatedAt.IsZero() {
		t.Fatalf("check-in delivered %+v, want lock %d then locate %d", cmds, lock.ID, locate.ID)
	}
	if again := checkin(t, e, reg.DeviceToken); len(again) != 0 {
		t.Errorf("commands are delivered once, got them again: %+v", again)
	}

	res, b := call(t, e, "POST", "/commands/"+strconv.FormatInt(locate.ID, 10)+"/result", reg.DeviceToken,
		`{"status":"done","message":"Located.","data":{"latitude":52.52,"longitude":13.405,"accuracy_m":10,"at":"2026-03-02T09:00:00Z"}}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("reporting a result: status %d: %s", res.StatusCode, b)
	}
	if c := decode[portico.Command](t, b); c.ID != locate.ID || c.Status != portico.CommandDone || c.DoneAt.IsZero() {
		t.Errorf("the answer is %s, want the command done", b)
	}
	if s := deviceapitest.Status(t, e, lock); s != portico.CommandSent {
		t.Errorf("the unanswered lock is %s, want sent", s)
	}

	entries, err := e.Service.AuditLog(e.Op, store.AuditFilter{DeviceID: reg.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	var audited bool
	for _, a := range entries {
		if a.Action == "command.locate" {
			audited = true
			if a.Actor != "device:"+strconv.FormatInt(reg.DeviceID, 10) || a.Source != "127.0.0.1" {
				t.Errorf("the result is audited as by %q from %q", a.Actor, a.Source)
			}
		}
	}
	if !audited {
		t.Errorf("the result is not in the audit log: %+v", entries)
	}
}

func TestRefusals(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	e.AddUser("bob", false)
	alice := register(t, e, "alice")
	bob := register(t, e, "bob")
	answered := deviceapitest.Queue(t, e, alice.DeviceID, portico.CommandLock)
	checkin(t, e, alice.DeviceToken)
	if res, b := call(t, e, "POST", "/commands/"+strconv.FormatInt(answered.ID, 10)+"/result", alice.DeviceToken, `{"status":"done"}`); res.StatusCode != http.StatusOK {
		t.Fatalf("reporting a result: %d %s", res.StatusCode, b)
	}
	bobs := deviceapitest.Queue(t, e, bob.DeviceID, portico.CommandLock)
	checkin(t, e, bob.DeviceToken)
	resultOf := func(c *portico.Command) string { return "/commands/" + strconv.FormatInt(c.ID, 10) + "/result" }
	const details = `"device":{"name":"Phone"}`

	tests := []struct {
		name, path, token, body string
		status                  int
		code, message           string
	}{
		{"register: not JSON", "/register", "", `{"username":`, 400, portico.EINVALID, "not valid JSON"},
		{"register: unknown field", "/register", "", `{"username":"alice","password":"alice-password","platform":"ios","colour":"red",` + details + `}`, 400, portico.EINVALID, `unknown field "colour"`},
		{"register: data after the JSON", "/register", "", `{"username":"alice"} {}`, 400, portico.EINVALID, "data after the JSON"},
		{"register: too large", "/register", "", `{"username":"` + strings.Repeat("a", 100<<10) + `"}`, 400, portico.EINVALID, "larger than"},
		{"register: wrong password", "/register", "", `{"username":"alice","password":"wrong","platform":"ios",` + details + `}`, 401, portico.EUNAUTHENTICATED, "The user name or password is wrong."},
		{"register: unknown user", "/register", "", `{"username":"nobody","password":"wrong","platform":"ios",` + details + `}`, 401, portico.EUNAUTHENTICATED, "The user name or password is wrong."},
		{"register: bad platform", "/register", "", `{"username":"alice","password":"alice-password","platform":"blackberry",` + details + `}`, 400, portico.EINVALID, `"blackberry" is not a platform`},
		{"register: bad IMEI", "/register", "", `{"username":"alice","password":"alice-password","platform":"android","device":{"imei":"12"}}`, 400, portico.EINVALID, "IMEI"},
		{"checkin: no token", "/checkin", "", `{` + details + `}`, 401, portico.EUNAUTHENTICATED, "device token is required"},
		{"checkin: wrong token", "/checkin", "not-a-token", `{` + details + `}`, 401, portico.EUNAUTHENTICATED, "not valid"},
		{"checkin: not JSON", "/checkin", alice.DeviceToken, `device`, 400, portico.EINVALID, "not valid JSON"},
		{"checkin: no device", "/checkin", alice.DeviceToken, `{}`, 400, portico.EINVALID, "device is required: send the device's details"},
		{"checkin: null device", "/checkin", alice.DeviceToken, `{"device":null}`, 400, portico.EINVALID, "device is required"},
		{"checkin: unknown field", "/checkin", alice.DeviceToken, `{"device":{"colour":"red"}}`, 400, portico.EINVALID, `unknown field "colour"`},
		{"checkin: bad OS version", "/checkin", alice.DeviceToken, `{"device":{"os_version":"seventeen"}}`, 400, portico.EINVALID, "dotted version number"},
		{"result: no token", resultOf(answered), "", `{"status":"done"}`, 401, portico.EUNAUTHENTICATED, "device token is required"},
		{"result: id not a number", "/commands/abc/result", alice.DeviceToken, `{"status":"done"}`, 400, portico.EINVALID, `"abc" is not a command id`},
		{"result: id zero", "/commands/0/result", alice.DeviceToken, `{"status":"done"}`, 400, portico.EINVALID, "not a command id"},
		{"result: bad status", resultOf(bobs), bob.DeviceToken, `{"status":"maybe"}`, 400, portico.EINVALID, "done or failed"},
		{"result: unknown field", resultOf(bobs), bob.DeviceToken, `{"status":"done","colour":"red"}`, 400, portico.EINVALID, "unknown field"},
		{"result: another device's command", resultOf(bobs), alice.DeviceToken, `{"status":"done"}`, 404, portico.ENOTFOUND, ""},
		{"result: no such command", "/commands/999999/result", alice.DeviceToken, `{"status":"done"}`, 404, portico.ENOTFOUND, ""},
		{"result: answered twice", resultOf(answered), alice.DeviceToken, `{"status":"failed"}`, 409, portico.ECONFLICT, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := call(t, e, "POST", tt.path, tt.token, tt.body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("the error body %s: %v", b, err)
			}
			if body.Error.Code != tt.code || body.Error.Message == "" || !strings.Contains(body.Error.Message, tt.message) {
				t.Errorf("error %+v, want code %q and a message with %q", body.Error, tt.code, tt.message)
			}
			if tt.status == 401 && tt.token == "" && tt.path != "/register" && res.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate %q, want Bearer", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if s := deviceapitest.Status(t, e, bobs); s != portico.CommandSent {
		t.Errorf("bob's command is %s after the refused results, want sent", s)
	}
	if d, err := e.Service.Device(e.Op, alice.DeviceID); err != nil || d.Details.Name != "Work phone" || d.Details.OSVersion != "17.5.1" {
		t.Errorf("after the refused check-ins alice's device is %+v (%v), want its details kept", d, err)
	}
}

// TestMuxErrorsAreJSON covers what no handler answers: agents parse every
// error under the prefix as the API's JSON, never the mux's plain text.
func TestMuxErrorsAreJSON(t *testing.T) {
	e := servertest.New(t)
	tests := []struct {
		name, method, path string
		status             int
		allow, code        string
	}{
		{"checkin with GET", "GET", "/checkin", 405, "POST", portico.EINVALID},
		{"result with DELETE", "DELETE", "/commands/1/result", 405, "POST", portico.EINVALID},
		{"the document with POST", "POST", "/openapi.yaml", 405, "GET, HEAD", portico.EINVALID},
		{"an unknown call", "POST", "/enroll", 404, "", portico.ENOTFOUND},
		{"an unknown nested path", "GET", "/commands/1", 404, "", portico.ENOTFOUND},
		{"the prefix itself", "GET", "/", 404, "", portico.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := call(t, e, tt.method, tt.path, "", "")
			if res.StatusCode != tt.status || res.Header.Get("Allow") != tt.allow {
				t.Errorf("status %d with Allow %q, want %d with %q", res.StatusCode, res.Header.Get("Allow"), tt.status, tt.allow)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q: %s", ct, b)
			}
			body := decode[struct {
				Error struct{ Code, Message string }
			}](t, b)
			if body.Error.Code != tt.code || body.Error.Message == "" {
				t.Errorf("error %+v, want code %q and a message", body.Error, tt.code)
			}
		})
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := servertest.New(t)
	res, b := call(t, e, "GET", "/openapi.yaml", "", "")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	doc := string(b)
	if !strings.HasPrefix(doc, "openapi: 3.1.") {
		t.Errorf("the document does not start with its OpenAPI version")
	}

	routes := 0
	for _, r := range e.Server.Routes() {
		if !strings.Contains(r.Pattern, deviceapi.Prefix+"/") {
			continue
		}
		method, path, ok := strings.Cut(r.Pattern, " ")
		if !ok {
			continue // the catch-all that answers unknown calls
		}
		routes++
		path = strings.TrimPrefix(path, deviceapi.Prefix)
		t.Run(r.Pattern, func(t *testing.T) {
			i := strings.Index(doc, "\n  "+path+":\n")
			if i < 0 {
				t.Fatalf("%s is not among the document's paths", path)
			}
			if !strings.HasPrefix(doc[i+len(path)+5:], "    "+strings.ToLower(method)+":\n") {
				t.Errorf("%s is documented without its method %s", path, method)
			}
		})
	}
	if routes == 0 {
		t.Error("the server has no device API routes")
	}
	for _, want := range []string{"scheme: bearer", `"400":`, `"401":`, `"403":`, `"404":`, `"409":`, `"429":`, `"500":`, "required: [code, message]"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the document lacks %s", want)
		}
	}
}

func TestWait(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	alice := register(t, e, "alice")
	e.AddUser("bob", false)
	bob := register(t, e, "bob")

	tests := []struct {
		name, token, body string
		// publish is the device woken while the request waits; 0 wakes none.
		publish int64
		status  int
		wake    bool
		// within and atLeast bound how long the answer takes.
		within, atLeast time.Duration
		message         string
	}{
		{"woken", alice.DeviceToken, `{"timeout_seconds":20}`, alice.DeviceID, 200, true, 5 * time.Second, 0, ""},
		{"woken, with no body and the default timeout", alice.DeviceToken, "", alice.DeviceID, 200, true, 5 * time.Second, 0, ""},
		{"timed out", alice.DeviceToken, `{"timeout_seconds":1}`, 0, 200, false, 5 * time.Second, time.Second, ""},
		{"another device is woken", alice.DeviceToken, `{"timeout_seconds":1}`, bob.DeviceID, 200, false, 5 * time.Second, time.Second, ""},
		{"wrong token", "not-a-token", `{"timeout_seconds":1}`, 0, 401, false, time.Second, 0, "not valid"},
		{"no token", "", "", 0, 401, false, time.Second, 0, "device token is required"},
		{"timeout zero", alice.DeviceToken, `{"timeout_seconds":0}`, 0, 400, false, time.Second, 0, "timeout_seconds is from 1 to 120, not 0."},
		{"timeout too long", alice.DeviceToken, `{"timeout_seconds":121}`, 0, 400, false, time.Second, 0, "from 1 to 120"},
		{"timeout not a number", alice.DeviceToken, `{"timeout_seconds":"soon"}`, 0, 400, false, time.Second, 0, "not valid JSON"},
		{"unknown field", alice.DeviceToken, `{"timeout":5}`, 0, 400, false, time.Second, 0, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.publish != 0 {
				// Publish until the answer arrives: the request may not have
				// subscribed yet when the first wake-up goes out.
				done := make(chan struct{})
				defer close(done)
				go func() {
					for {
						select {
						case <-done:
							return
						case <-time.After(100 * time.Millisecond):
							e.Wake.Publish(context.Background(), tt.publish)
						}
					}
				}()
			}
			start := time.Now()
			res, b := call(t, e, "POST", "/wait", tt.token, tt.body)
			took := time.Since(start)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if took > tt.within || took < tt.atLeast {
				t.Errorf("answered after %s, want from %s to %s", took, tt.atLeast, tt.within)
			}
			if tt.status != http.StatusOK {
				if !strings.Contains(string(b), tt.message) {
					t.Errorf("answer %s, want the message %q", b, tt.message)
				}
				return
			}
			if got := decode[deviceapi.WaitResponse](t, b); got.Wake != tt.wake || !strings.Contains(string(b), `"wake":`) {
				t.Errorf("answer %s, want wake %v", b, tt.wake)
			}
		})
	}
}

// A graceful shutdown ends the waits at once instead of waiting for them.
func TestDrainEndsWaits(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	alice := register(t, e, "alice")
	go func() {
		time.Sleep(200 * time.Millisecond)
		e.Server.Drain()
	}()
	start := time.Now()
	res, b := call(t, e, "POST", "/wait", alice.DeviceToken, `{"timeout_seconds":60}`)
	if res.StatusCode != http.StatusOK || decode[deviceapi.WaitResponse](t, b).Wake || time.Since(start) > 10*time.Second {
		t.Errorf("a draining server answered %d %s after %s, want wake false at once", res.StatusCode, b, time.Since(start))
	}
}
