package portico

import "time"

// AppleChallenge lets devices get their identity from the SCEP server
// (SPEC APPLE-1): once, for the pending device of a registration, or up to
// a number of times for devices of one user until it expires (bulk
// enrollment, DeviceID 0).
type AppleChallenge struct {
	ID           int64     `json:"id"`
	UserID       int64     `json:"user_id"`
	DeviceID     int64     `json:"device_id,omitempty"`
	InvitationID int64     `json:"invitation_id,omitempty"`
	Platform     Platform  `json:"platform"`
	UsesLeft     int       `json:"uses_left"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// AppleCertificate is a device identity the SCEP server issued.
type AppleCertificate struct {
	Fingerprint  []byte
	DeviceID     int64
	InvitationID int64
	Serial       string
	IssuedAt     time.Time
	NotAfter     time.Time
}

// AppleEnrollment is how an Apple device is managed: the UDID and identity
// it enrolled with, how to wake it, and what decides which commands it
// takes.
type AppleEnrollment struct {
	DeviceID    int64
	UDID        string
	Fingerprint []byte
	Topic       string
	PushToken   []byte
	PushMagic   string
	// UnlockToken is sealed (internal/secret); it clears the passcode.
	UnlockToken []byte
	// Supervised devices take lost mode, and with it locate.
	Supervised bool
	LostMode   bool
	EnrolledAt time.Time
	UpdatedAt  time.Time
}
