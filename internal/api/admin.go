package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/web"
)

// UserDetailsRequest changes a user's details; a field left out keeps its
// value.
type UserDetailsRequest struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
	Phone *string `json:"phone"`
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	var req UserDetailsRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	if req.Name == nil && req.Email == nil && req.Phone == nil {
		return portico.Errorf(portico.EINVALID, "Send at least one of name, email and phone.")
	}
	u, err := a.svc.User(r.Context(), id)
	if err != nil {
		return err
	}
	d := service.UserDetails{Name: u.Name, Email: u.Email, Phone: u.Phone}
	for _, f := range []struct {
		from *string
		to   *string
	}{{req.Name, &d.Name}, {req.Email, &d.Email}, {req.Phone, &d.Phone}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if u, err = a.svc.UpdateUser(r.Context(), id, d); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, u)
}

// setDisabled returns the handler that disables or enables a user.
func (a *API) setDisabled(disabled bool) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := web.PathID(r, "id", "user")
		if err != nil {
			return err
		}
		u, err := a.svc.SetUserDisabled(r.Context(), id, disabled)
		if err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, u)
	}
}

// PasswordLinkResponse is a one-time link to set a new password, given
// this once; it was mailed to the user when they have an email address.
type PasswordLinkResponse struct {
	User      *portico.User `json:"user"`
	Link      string        `json:"link"`
	ExpiresAt time.Time     `json:"expires_at"`
	MailedTo  string        `json:"mailed_to,omitempty"`
}

func (a *API) passwordLink(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	l, err := a.svc.SendPasswordLink(r.Context(), id)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, PasswordLinkResponse{User: l.User, Link: l.Link, ExpiresAt: l.ExpiresAt, MailedTo: l.MailedTo})
}

// TemporaryPasswordResponse is a generated password, given this once,
// which the user must change at their next sign-in.
type TemporaryPasswordResponse struct {
	User     *portico.User `json:"user"`
	Password string        `json:"password"`
}

func (a *API) temporaryPassword(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	u, password, err := a.svc.SetTemporaryPassword(r.Context(), id)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, TemporaryPasswordResponse{User: u, Password: password})
}

// BulkRolesRequest grants and revokes own roles of several users at once,
// all or none.
type BulkRolesRequest struct {
	UserIDs []int64        `json:"user_ids"`
	Grant   []portico.Role `json:"grant"`
	Revoke  []portico.Role `json:"revoke"`
}

// BulkRolesResponse says how many of the users' roles changed.
type BulkRolesResponse struct {
	Changed int `json:"changed"`
}

func (a *API) bulkRoles(w http.ResponseWriter, r *http.Request) error {
	var req BulkRolesRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	n, err := a.svc.BulkChangeRoles(r.Context(), req.UserIDs, req.Grant, req.Revoke)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, BulkRolesResponse{Changed: n})
}

func (a *API) resetTwoFactor(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	u, err := a.svc.ResetTwoFactor(r.Context(), id)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, u)
}

func (a *API) userRoleSets(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	sets, err := a.svc.UserRoleSets(r.Context(), id)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, List[*portico.RoleSet]{Items: nonNil(sets)})
}

func (a *API) roleSets(w http.ResponseWriter, r *http.Request) error {
	sets, err := a.svc.RoleSets(r.Context())
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, List[*portico.RoleSet]{Items: nonNil(sets)})
}

// RoleSetRequest is a role set's name and roles.
type RoleSetRequest struct {
	Name  string         `json:"name"`
	Roles []portico.Role `json:"roles"`
}

func (a *API) createRoleSet(w http.ResponseWriter, r *http.Request) error {
	var req RoleSetRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	set, err := a.svc.CreateRoleSet(r.Context(), req.Name, req.Roles)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, set)
}

func (a *API) updateRoleSet(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "role set")
	if err != nil {
		return err
	}
	var req RoleSetRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	set, err := a.svc.UpdateRoleSet(r.Context(), id, req.Name, req.Roles)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, set)
}

func (a *API) deleteRoleSet(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "role set")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteRoleSet(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// MembersRequest names the users to put in a role set or take out of it.
type MembersRequest struct {
	UserIDs []int64 `json:"user_ids"`
}

// changeMembers returns the handler that puts users in a role set, or
// takes them out, all or none.
func (a *API) changeMembers(change func(ctx context.Context, setID int64, userIDs []int64) (*portico.RoleSet, error)) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := web.PathID(r, "id", "role set")
		if err != nil {
			return err
		}
		var req MembersRequest
		if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
			return err
		}
		set, err := change(r.Context(), id, req.UserIDs)
		if err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, set)
	}
}

// ImportRow is one row of a CSV file of users: the user it would create
// and what is wrong with it.
type ImportRow struct {
	// Line is the row's line in the file, the header being line 1.
	Line     int          `json:"line"`
	User     portico.User `json:"user"`
	Problems []string     `json:"problems"`
}

// ImportPreview is every row of a CSV file, checked, nothing written.
type ImportPreview struct {
	Rows []ImportRow `json:"rows"`
	// Bad counts the rows with a problem; an import needs none.
	Bad int `json:"bad"`
}

// ImportRefusal is the answer to an import with problems: the usual error
// and every row with its problems.
type ImportRefusal struct {
	Error struct {
		Code    string      `json:"code"`
		Message string      `json:"message"`
		Rows    []ImportRow `json:"rows"`
	} `json:"error"`
}

// ImportResponse is the users an import created; each was mailed a
// one-time link to choose a password when they have an email address.
type ImportResponse struct {
	Users  []*portico.User `json:"users"`
	Mailed int             `json:"mailed"`
}

// importCSV reads the CSV of an import request: the body itself as
// text/csv, or the csv field of a JSON object.
func importCSV(w http.ResponseWriter, r *http.Request) (string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "text/csv" {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, service.MaxImportBytes))
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			return "", portico.Errorf(portico.EINVALID, "The CSV file is larger than %d bytes.", service.MaxImportBytes)
		} else if err != nil {
			return "", err
		}
		return string(b), nil
	}
	var req struct {
		CSV *string `json:"csv"`
	}
	// JSON escapes can double the file's size.
	if err := web.DecodeJSON(w, r, 2*service.MaxImportBytes, &req); err != nil {
		return "", err
	}
	if req.CSV == nil {
		return "", portico.Errorf(portico.EINVALID, "Send the CSV file as the body with Content-Type text/csv, or as {\"csv\": \"...\"}.")
	}
	return *req.CSV, nil
}

func importPreview(p *service.ImportPreview) ImportPreview {
	out := ImportPreview{Rows: make([]ImportRow, len(p.Rows)), Bad: p.Bad}
	for i, row := range p.Rows {
		out.Rows[i] = ImportRow{Line: row.Line, User: row.User, Problems: nonNil(row.Problems)}
	}
	return out
}

func (a *API) previewImport(w http.ResponseWriter, r *http.Request) error {
	text, err := importCSV(w, r)
	if err != nil {
		return err
	}
	p, err := a.svc.PreviewImport(r.Context(), text)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, importPreview(p))
}

// importUsers checks the file first, to answer with every row's problems;
// the import checks it again in its own transaction, all or nothing.
func (a *API) importUsers(w http.ResponseWriter, r *http.Request) error {
	text, err := importCSV(w, r)
	if err != nil {
		return err
	}
	p, err := a.svc.PreviewImport(r.Context(), text)
	if err != nil {
		return err
	}
	if p.Bad > 0 {
		var res ImportRefusal
		res.Error.Code = portico.EINVALID
		res.Error.Message = "Nothing was imported: the rows listed have problems. Fix them and send the file again."
		for _, row := range importPreview(p).Rows {
			if len(row.Problems) > 0 {
				res.Error.Rows = append(res.Error.Rows, row)
			}
		}
		return web.WriteJSON(w, http.StatusBadRequest, res)
	}
	done, err := a.svc.ImportUsers(r.Context(), text)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, ImportResponse{Users: nonNil(done.Users), Mailed: done.Mailed})
}

// OwnershipRequest says who owns a device.
type OwnershipRequest struct {
	Ownership portico.Ownership `json:"ownership"`
}

func (a *API) setOwnership(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	var req OwnershipRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	d, err := a.svc.ChangeOwnership(r.Context(), id, req.Ownership)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, d)
}

var (
	messageStatuses = []portico.MessageStatus{portico.MessagePending, portico.MessageSent, portico.MessageFailed}
	messageChannels = []portico.Channel{portico.ChannelMail, portico.ChannelSMS, portico.ChannelAPNs}
)

// outbox lists the outbox's messages, newest first, as the admin portal
// does.
func (a *API) outbox(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := intParam(q, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	f := store.MessageFilter{Status: portico.MessageStatus(q.Get("status")), Channel: portico.Channel(q.Get("channel")), Limit: limit}
	if f.Status != "" && !slices.Contains(messageStatuses, f.Status) {
		return portico.Errorf(portico.EINVALID, "status: %q is not a message status; choose pending, sent or failed.", f.Status)
	}
	if f.Channel != "" && !slices.Contains(messageChannels, f.Channel) {
		return portico.Errorf(portico.EINVALID, "channel: %q is not a channel; choose mail, sms or apns.", f.Channel)
	}
	msgs, err := a.svc.Messages(r.Context(), f)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, List[*portico.Message]{Items: nonNil(msgs)})
}

// PushStatus is the MDM push certificate, if one was uploaded, what is
// wrong with it, and the newest push, which shows whether Apple takes
// them.
type PushStatus struct {
	Certificate *portico.PushCertificate `json:"certificate"`
	Warning     string                   `json:"warning,omitempty"`
	LastPush    *portico.Message         `json:"last_push"`
}

func (a *API) pushCertificate(w http.ResponseWriter, r *http.Request) error {
	var st PushStatus
	var err error
	st.Certificate, err = a.svc.PushCertificate(r.Context())
	if err != nil && portico.ErrorCode(err) != portico.ENOTFOUND {
		return err
	}
	if st.Warning, err = a.svc.PushCertificateWarning(r.Context()); err != nil {
		return err
	}
	if st.LastPush, err = a.svc.LastPush(r.Context()); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, st)
}

// TestMessageRequest sends a test message at once through the mail
// server or SMS gateway of the settings.
type TestMessageRequest struct {
	Channel portico.Channel `json:"channel"`
	To      string          `json:"to"`
}

// TestMessageResponse says whether the server or gateway took the test
// message, and if not, what it answered.
type TestMessageResponse struct {
	Sent    bool   `json:"sent"`
	Failure string `json:"failure,omitempty"`
}

// testMessage answers 502 when the server or gateway refused the message:
// the call was good, the delivery was not.
func (a *API) testMessage(w http.ResponseWriter, r *http.Request) error {
	var req TestMessageRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	if req.Channel != portico.ChannelMail && req.Channel != portico.ChannelSMS {
		return portico.Errorf(portico.EINVALID, "channel: %q is not a channel with a test message; choose mail or sms.", req.Channel)
	}
	failure, err := a.svc.SendTestMessage(r.Context(), req.Channel, req.To)
	if err != nil {
		return err
	}
	if failure != "" {
		return web.WriteJSON(w, http.StatusBadGateway, TestMessageResponse{Failure: failure})
	}
	return web.WriteJSON(w, http.StatusOK, TestMessageResponse{Sent: true})
}

// nonNil makes an empty list an array in JSON, not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
