package admin

import (
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/web"
)

// testChannels are the settings pages that send a test message.
var testChannels = map[string]portico.Channel{"mail": portico.ChannelMail, "sms": portico.ChannelSMS}

// testMessage is the test message form of the mail or SMS page and how
// its last sending went.
type testMessage struct {
	Channel portico.Channel
	To      string
	// Sent is true when the server or gateway took the message.
	Sent bool
	// Failure is the server's or gateway's error, or why it was not sent.
	Failure string
}

// newTestMessage is the form of the group's page, addressed to the admin
// (their email or phone), or nil for a page that sends none.
func newTestMessage(r *http.Request, group portico.SettingGroup) *testMessage {
	ch, ok := testChannels[group.Key]
	if !ok {
		return nil
	}
	t := &testMessage{Channel: ch}
	if u := portico.ActorFromContext(r.Context()).User; u != nil {
		t.To = u.Email
		if ch == portico.ChannelSMS {
			t.To = u.Phone
		}
	}
	return t
}

// sendTestMessage sends at once, not through the outbox's queue, and shows
// on the page whether it worked: a failed delivery answers 502 with the
// server's or gateway's own error.
func (h *handler) sendTestMessage(w http.ResponseWriter, r *http.Request) error {
	group, err := portico.LookupSettingGroup(r.PathValue("group"))
	if err != nil {
		return err
	}
	test := newTestMessage(r, group)
	if test == nil {
		return portico.Errorf(portico.ENOTFOUND, "The %s settings send no test message; the Mail and SMS settings do.", group.Label)
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	test.To = r.PostForm.Get("to")
	failure, err := h.svc.SendTestMessage(r.Context(), test.Channel, test.To)
	status := http.StatusOK
	switch code := portico.ErrorCode(err); {
	case code == portico.EINVALID || code == portico.ECONFLICT:
		status, test.Failure = web.Status(err), portico.ErrorMessage(err)
	case err != nil:
		return err
	case failure != "":
		status, test.Failure = http.StatusBadGateway, failure
	default:
		test.Sent = true
	}
	values, err := h.svc.Settings(r.Context())
	if err != nil {
		return err
	}
	return h.renderSettings(w, r, status, group, values, "", test)
}
