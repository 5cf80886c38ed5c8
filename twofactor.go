package portico

import "time"

// TOTP is a user's second factor (SPEC LOGIN-2): a time-based one-time
// password secret, sealed at rest.
type TOTP struct {
	UserID int64
	// Sealed is the secret, sealed with the key kept outside the database.
	Sealed    []byte
	CreatedAt time.Time
	// EnabledAt is when the user confirmed a first code; zero while the
	// user is still setting it up, when sign-in does not ask for it.
	EnabledAt time.Time
	// LastStep is the time step of the last code accepted: a code of that
	// step or an earlier one is never accepted again.
	LastStep int64
}

// Enabled reports whether sign-in asks for a code.
func (t *TOTP) Enabled() bool { return t != nil && !t.EnabledAt.IsZero() }

// PendingSignIn is a sign-in whose password was right and that waits for
// its second factor: it grants nothing else.
type PendingSignIn struct {
	UserID, Epoch int64
	Started       time.Time
}
