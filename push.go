package portico

import (
	"encoding/hex"
	"strings"
	"time"
)

// ChannelAPNs carries the pushes that wake Apple devices under management
// (SPEC APPLE-1): To is the device token in hex, Subject the push topic,
// Text the push magic, and DeviceID the device woken.
const ChannelAPNs Channel = "apns"

// PushTopicPrefix starts the topic of every MDM push certificate.
const PushTopicPrefix = "com.apple.mgmt."

// maxPushToken bounds a device token; Apple's are 32 bytes today and may
// grow, but not without bound.
const maxPushToken = 100

// Push asks Apple to wake one device, so that it fetches its commands. The
// token, push magic and topic are what the device sent in its last
// TokenUpdate.
type Push struct {
	DeviceID  int64
	Token     []byte
	PushMagic string
	Topic     string
}

// Message is the push as the outbox holds it, written at now.
func (p Push) Message(now time.Time) *Message {
	return &Message{
		Channel: ChannelAPNs, DeviceID: p.DeviceID, To: hex.EncodeToString(p.Token),
		Subject: p.Topic, Text: p.PushMagic, CreatedAt: now,
	}
}

// PushOf reads the push back from its message.
func PushOf(m *Message) (Push, error) {
	if m.Channel != ChannelAPNs {
		return Push{}, Errorf(EINVALID, "Message %d is no push.", m.ID)
	}
	token, err := hex.DecodeString(m.To)
	if err != nil {
		return Push{}, Errorf(EINVALID, "%q is not a device token in hex.", m.To)
	}
	return Push{DeviceID: m.DeviceID, Token: token, PushMagic: m.Text, Topic: m.Subject}, nil
}

func (m *Message) validatePush() error {
	token, err := hex.DecodeString(m.To)
	switch {
	case m.DeviceID <= 0:
		return Errorf(EINVALID, "A push has no device.")
	case err != nil || len(token) == 0 || len(token) > maxPushToken:
		return Errorf(EINVALID, "%q is not a device token in hex.", m.To)
	case !ValidPushTopic(m.Subject):
		return Errorf(EINVALID, "%q is not a push topic; it starts with %s.", m.Subject, PushTopicPrefix)
	case strings.TrimSpace(m.Text) == "" || strings.ContainsAny(m.Text, "\r\n") || len(m.Text) > 200:
		return Errorf(EINVALID, "A push needs the device's push magic, one line.")
	case m.CreatedAt.IsZero():
		return Errorf(EINVALID, "A message has no creation time.")
	}
	return nil
}

// ValidPushTopic reports whether s is the topic of an MDM push
// certificate.
func ValidPushTopic(s string) bool {
	return len(s) > len(PushTopicPrefix) && len(s) <= 255 && strings.HasPrefix(s, PushTopicPrefix) &&
		!strings.ContainsAny(s, " \t\r\n")
}

// PushCertificate is the MDM push certificate Apple issued to the company,
// which every push is authenticated with. There is at most one.
type PushCertificate struct {
	// Topic is the UID in the certificate's subject: the topic of every
	// push and of the enrollment profile.
	Topic    string    `json:"topic"`
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	// Fingerprint is the SHA-256 of the certificate, in hex.
	Fingerprint string    `json:"fingerprint"`
	UploadedAt  time.Time `json:"uploaded_at"`
	UploadedBy  string    `json:"uploaded_by"`
	// Chain is the certificate and any intermediates, PEM encoded; the
	// private key is stored apart, sealed.
	Chain []byte `json:"-"`
}

// Expired reports whether the certificate is past its last moment.
func (c *PushCertificate) Expired(now time.Time) bool { return now.After(c.NotAfter) }

// ExpiresSoon reports whether the certificate ends within 30 days.
func (c *PushCertificate) ExpiresSoon(now time.Time) bool {
	return !c.Expired(now) && c.NotAfter.Sub(now) < expiresSoon
}
