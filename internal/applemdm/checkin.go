// Package applemdm speaks Apple's MDM protocol: it decodes what a device
// sends (check-in messages, command results), encodes commands and the
// enrollment profile, verifies a device's message signature and runs the
// SCEP certificate authority that gives devices their identity. It knows
// nothing of HTTP routes, storage or rules: internal/service decides, and
// internal/web/mdm carries the bytes.
package applemdm

import (
	"errors"
	"fmt"

	"howett.net/plist"
)

// MaxBody is the largest message a device may send. The largest real
// answer, a Mac's full DeviceInformation, is about 25 KiB; a ProfileList
// with signer certificates stays well under this.
const MaxBody = 1 << 20

// Content types of the two kinds of request a device makes.
const (
	CheckinContentType = "application/x-apple-aspen-mdm-checkin"
	CommandContentType = "application/x-apple-aspen-mdm"
	ProfileContentType = "application/x-apple-aspen-config"
)

// MessageType names a check-in message.
type MessageType string

const (
	Authenticate MessageType = "Authenticate"
	TokenUpdate  MessageType = "TokenUpdate"
	CheckOut     MessageType = "CheckOut"
)

// ErrMalformed is wrapped by every error about a body that is not the
// message it claims to be.
var ErrMalformed = errors.New("applemdm: malformed message")

// ErrUserChannel is returned for messages of a macOS user channel or of a
// user enrollment, which Portico does not manage: only the device channel
// of a device enrollment.
var ErrUserChannel = errors.New("applemdm: user-channel and user-enrollment messages are not supported")

// Checkin is a check-in message: Authenticate, TokenUpdate or CheckOut,
// with the keys of each (Apple's checkin/*.yaml).
type Checkin struct {
	MessageType MessageType `plist:"MessageType"`
	Topic       string      `plist:"Topic"`
	UDID        string      `plist:"UDID"`

	// Authenticate: what the device says about itself.
	OSVersion    string `plist:"OSVersion"`
	BuildVersion string `plist:"BuildVersion"`
	ProductName  string `plist:"ProductName"`
	SerialNumber string `plist:"SerialNumber"`
	IMEI         string `plist:"IMEI"`
	MEID         string `plist:"MEID"`
	DeviceName   string `plist:"DeviceName"`
	Model        string `plist:"Model"`
	ModelName    string `plist:"ModelName"`

	// TokenUpdate: how to wake the device, and the token that clears its
	// passcode.
	Token                 []byte `plist:"Token"`
	PushMagic             string `plist:"PushMagic"`
	UnlockToken           []byte `plist:"UnlockToken"`
	AwaitingConfiguration bool   `plist:"AwaitingConfiguration"`

	// Present only on the channels Portico refuses.
	UserID       string `plist:"UserID"`
	EnrollmentID string `plist:"EnrollmentID"`
}

// DecodeCheckin decodes a check-in message and checks that it has what
// its type needs.
func DecodeCheckin(body []byte) (*Checkin, error) {
	var m Checkin
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	if m.UserID != "" || m.EnrollmentID != "" {
		return nil, ErrUserChannel
	}
	switch m.MessageType {
	case Authenticate, CheckOut:
	case TokenUpdate:
		if len(m.Token) == 0 || m.PushMagic == "" {
			return nil, fmt.Errorf("%w: a TokenUpdate needs Token and PushMagic", ErrMalformed)
		}
	case "":
		return nil, fmt.Errorf("%w: no MessageType", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: unknown MessageType %q", ErrMalformed, m.MessageType)
	}
	if m.UDID == "" {
		return nil, fmt.Errorf("%w: no UDID", ErrMalformed)
	}
	if m.Topic == "" {
		return nil, fmt.Errorf("%w: no Topic", ErrMalformed)
	}
	return &m, nil
}

// decode reads one plist dictionary (XML or binary, as devices may send
// either) into v.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if len(body) > MaxBody {
		return fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxBody)
	}
	if _, err := plist.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
