package portico

import "time"

// InvitationKind is how a registration was started from the portal
// (SPEC REG-1, REG-2, REG-3).
type InvitationKind string

const (
	// InviteByMessage sends the registration link by mail and SMS.
	InviteByMessage InvitationKind = "invitation"
	// InviteWithPIN sends the link too, and a PIN that the device must give.
	InviteWithPIN InvitationKind = "pin"
	// InviteByQR shows the link as a QR code to scan.
	InviteByQR InvitationKind = "qr"
)

// Role is the portal role that lets a user start this kind of registration.
func (k InvitationKind) Role() Role {
	switch k {
	case InviteWithPIN:
		return RoleRequestPIN
	case InviteByQR:
		return RoleGenerateQR
	}
	return RoleRegisterDevice
}

// InvitationStatus is where an invitation is in its life.
type InvitationStatus string

const (
	InvitationPending   InvitationStatus = "pending"
	InvitationUsed      InvitationStatus = "used"
	InvitationCancelled InvitationStatus = "cancelled"
	InvitationExpired   InvitationStatus = "expired"
)

// MaxPINAttempts is how many wrong PINs an invitation takes before its PIN
// stops working (SPEC REG-2).
const MaxPINAttempts = 5

// Invitation is a registration in progress: the pending device it will
// turn active, and the secret link (and PIN) that complete it. The link's
// token and the PIN are stored hashed and shown only once.
type Invitation struct {
	ID          int64            `json:"id"`
	UserID      int64            `json:"user_id"`
	DeviceID    int64            `json:"device_id,omitempty"`
	Platform    Platform         `json:"platform"`
	Kind        InvitationKind   `json:"kind"`
	Status      InvitationStatus `json:"status"`
	HasPIN      bool             `json:"has_pin"`
	PINAttempts int              `json:"pin_attempts"`
	CreatedAt   time.Time        `json:"created_at"`
	ExpiresAt   time.Time        `json:"expires_at"`
	// PINExpiresAt may come before ExpiresAt: the PIN has its own lifetime.
	PINExpiresAt time.Time `json:"pin_expires_at,omitzero"`
	UsedAt       time.Time `json:"used_at,omitzero"`
}

// Open reports whether the invitation can still complete a registration.
func (i *Invitation) Open(now time.Time) bool {
	return i.Status == InvitationPending && now.Before(i.ExpiresAt)
}

// Capabilities are the registration actions the portal offers a user: the
// role must be granted and the switch behind it on (SPEC ROLE, SWITCH).
type Capabilities struct {
	Invite, RequestPIN, GenerateQR bool
	// Certificates is the My Certificates tab (SPEC CERT-1).
	Certificates bool
}

// Allows reports whether the user may start this kind of registration.
func (c Capabilities) Allows(k InvitationKind) bool {
	switch k {
	case InviteByMessage:
		return c.Invite
	case InviteWithPIN:
		return c.RequestPIN
	case InviteByQR:
		return c.GenerateQR
	}
	return false
}

// Any reports whether the user may register a device at all (SPEC HOME-3).
func (c Capabilities) Any() bool { return c.Invite || c.RequestPIN || c.GenerateQR }

// ParseInvitationKind returns the kind with the given name.
func ParseInvitationKind(s string) (InvitationKind, error) {
	switch k := InvitationKind(s); k {
	case InviteByMessage, InviteWithPIN, InviteByQR:
		return k, nil
	}
	return "", Errorf(EINVALID, "%q is not a way to register; choose invitation, pin or qr.", s)
}
