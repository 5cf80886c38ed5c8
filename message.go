package portico

import (
	"net"
	"regexp"
	"strings"
	"time"
)

// Channel is how a message reaches a person.
type Channel string

const (
	ChannelMail Channel = "mail"
	ChannelSMS  Channel = "sms"
)

// Label is how pages name the channel.
func (c Channel) Label() string {
	switch c {
	case ChannelSMS:
		return "SMS"
	case ChannelAPNs:
		return "Apple push"
	}
	return "Mail"
}

// HasGateway reports whether the settings name a gateway for the channel:
// without one, its messages wait in the outbox for an admin to read.
func (v SettingValues) HasGateway(c Channel) bool {
	switch c {
	case ChannelMail:
		return v.Get("mail.host") != ""
	case ChannelSMS:
		return v.Get("sms.url") != ""
	}
	return false
}

// MessageStatus is where a message is on its way out (SPEC OPS-2).
type MessageStatus string

const (
	// MessagePending waits for delivery, or for its next try after a failure.
	MessagePending MessageStatus = "pending"
	MessageSent    MessageStatus = "sent"
	// MessageFailed gave up after its last try.
	MessageFailed MessageStatus = "failed"
)

// DeliveredText stands in the outbox for the text of a delivered message,
// which may have held a registration link and PIN.
const DeliveredText = "(delivered; the text is not kept)"

// Message is a mail or an SMS in the outbox. It is written in the same
// transaction as the action that causes it, so an acknowledged action never
// loses its message, and delivered by the outbox's workers.
type Message struct {
	ID      int64   `json:"id"`
	Channel Channel `json:"channel"`
	To      string  `json:"to"`
	Subject string  `json:"subject,omitempty"` // mail only
	Text    string  `json:"text"`
	// DeviceID is the device a push wakes (apns only).
	DeviceID int64         `json:"device_id,omitempty"`
	Status   MessageStatus `json:"status"`
	// Attempts counts delivery tries so far.
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	SentAt        time.Time `json:"sent_at,omitzero"`
}

// Validate checks a message before it is queued: a known channel, an
// address of the channel's kind, text to send and the time it was written.
// A line break in the address or the subject would start a header of its
// own in a mail, so neither may have one.
func (m *Message) Validate() error {
	if m.DeviceID != 0 && m.Channel != ChannelAPNs {
		return Errorf(EINVALID, "Only a push names a device.")
	}
	switch m.Channel {
	case ChannelMail:
		if !validEmail(m.To) {
			return Errorf(EINVALID, "%q is not an email address.", m.To)
		}
	case ChannelSMS:
		if !phonePattern.MatchString(m.To) {
			return Errorf(EINVALID, "%q is not a phone number.", m.To)
		}
	case ChannelAPNs:
		return m.validatePush()
	default:
		return Errorf(EINVALID, "%q is not a message channel; it is mail, sms or apns.", m.Channel)
	}
	switch {
	case strings.ContainsAny(m.Subject, "\r\n"):
		return Errorf(EINVALID, "A message's subject is one line.")
	case strings.TrimSpace(m.Text) == "":
		return Errorf(EINVALID, "A message has no text.")
	case m.CreatedAt.IsZero():
		return Errorf(EINVALID, "A message has no creation time.")
	}
	return nil
}

// The choices of the mail and SMS settings.
var (
	mailSecurity    = []string{"starttls", "tls", "none"}
	smsMethods      = []string{"POST", "GET"}
	smsContentTypes = []string{"json", "form"}
)

var (
	hostPattern       = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)
	headerNamePattern = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
)

func optionalHost(s string) error {
	if s != "" && net.ParseIP(s) == nil && (len(s) > 253 || !hostPattern.MatchString(s)) {
		return Errorf(EINVALID, "%q is not a host name or an IP address.", s)
	}
	return nil
}

// line is text of one line: a value that goes into a header (a user name,
// a password, a header's value) must not start another.
func line(max int) func(string) error {
	return func(s string) error {
		if strings.ContainsAny(s, "\r\n") {
			return Errorf(EINVALID, "This value is one line.")
		}
		return text(max)(s)
	}
}

func headerName(s string) error {
	if s != "" && !headerNamePattern.MatchString(s) {
		return Errorf(EINVALID, "%q is not a header name; use letters, digits and dashes, like Authorization or X-Api-Key.", s)
	}
	return nil
}

// messageTemplate is a gateway's body with the placeholders {to} and {text}.
func messageTemplate(s string) error {
	if !strings.Contains(s, "{to}") || !strings.Contains(s, "{text}") {
		return Errorf(EINVALID, "The body must contain {to} and {text}, where the phone number and the text go.")
	}
	return text(2000)(s)
}
