package admin

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// messagesPerPage is how many messages the outbox shows, newest first.
const messagesPerPage = 200

var messageStatuses = []portico.MessageStatus{portico.MessagePending, portico.MessageSent, portico.MessageFailed}

type outboxPage struct {
	ui.Layout
	Messages []*portico.Message
	Status   portico.MessageStatus
	Statuses []portico.MessageStatus
	// NoGateway are the channels whose messages wait here for an admin.
	NoGateway []portico.Channel
	// PushesWait is set when pushes wait for a push certificate.
	PushesWait bool
}

func (h *handler) outbox(w http.ResponseWriter, r *http.Request) error {
	f := store.MessageFilter{Status: portico.MessageStatus(r.URL.Query().Get("status")), Limit: messagesPerPage}
	if f.Status != "" && !slices.Contains(messageStatuses, f.Status) {
		return portico.Errorf(portico.EINVALID, "%q is not a message status; it is pending, sent or failed.", f.Status)
	}
	msgs, err := h.svc.Messages(r.Context(), f)
	if err != nil {
		return err
	}
	settings, err := h.svc.Settings(r.Context())
	if err != nil {
		return err
	}
	p := outboxPage{Layout: h.layout(r, "Outbox"), Messages: msgs, Status: f.Status, Statuses: messageStatuses}
	for _, ch := range []portico.Channel{portico.ChannelMail, portico.ChannelSMS} {
		if !settings.HasGateway(ch) {
			p.NoGateway = append(p.NoGateway, ch)
		}
	}
	if slices.ContainsFunc(msgs, func(m *portico.Message) bool {
		return m.Channel == portico.ChannelAPNs && m.Status == portico.MessagePending
	}) {
		ready, err := h.svc.PushReady(r.Context())
		if err != nil {
			return err
		}
		p.PushesWait = !ready
	}
	return h.ui.Render(w, http.StatusOK, "admin_outbox", p)
}

type messagePage struct {
	ui.Layout
	Message *portico.Message
}

func (h *handler) message(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "message")
	if err != nil {
		return err
	}
	m, err := h.svc.Message(r.Context(), id)
	if err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "admin_message", messagePage{Layout: h.layout(r, "Message "+strconv.FormatInt(id, 10)), Message: m})
}
