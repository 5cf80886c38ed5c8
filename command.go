package portico

import (
	"encoding/json"
	"time"
)

// CommandKind is what a command asks a device to do.
type CommandKind string

const (
	CommandLock    CommandKind = "lock"
	CommandUnlock  CommandKind = "unlock"
	CommandLocate  CommandKind = "locate"
	CommandWipe    CommandKind = "wipe"
	CommandRetire  CommandKind = "retire"
	CommandCheckin CommandKind = "checkin"
	// CommandConfigure installs a configuration (an email account with its
	// S/MIME identities) on the device; the service queues it when a
	// certificate the configuration uses changes (SPEC CERT-3).
	CommandConfigure CommandKind = "configure"
	// CommandEndLostMode takes an iPhone or iPad out of the Lost Mode a
	// locate put it in; the portal offers it after a locate.
	CommandEndLostMode CommandKind = "end_lost_mode"
	// CommandRenewIdentity gives an Apple device a new identity before
	// its certificate ends; the server queues it, no one asks for it.
	CommandRenewIdentity CommandKind = "renew_identity"
)

// Kinds lists the actions in the order the portal shows them.
var Kinds = []CommandKind{CommandLock, CommandUnlock, CommandLocate, CommandCheckin, CommandRetire, CommandWipe}

var kindInfo = map[CommandKind]struct {
	role        Role
	label, done string
}{
	CommandLock:    {RoleLock, "Lock", "locked"},
	CommandUnlock:  {RoleUnlock, "Unlock", "passcode cleared"},
	CommandLocate:  {RoleLocate, "Locate", "located"},
	CommandWipe:    {RoleWipe, "Wipe", "wiped"},
	CommandRetire:  {RoleRetire, "Retire", "retired"},
	CommandCheckin: {RoleForceCheckin, "Force check-in", "checked in"},
	// Not a portal action (it is not in Kinds): a certificate's upload
	// queues it.
	CommandConfigure:   {RoleManageCertificates, "Install configuration", "configured"},
	CommandEndLostMode: {RoleLocate, "End Lost Mode", "out of Lost Mode"},
	// Not a portal action either: the server renews identities by itself.
	CommandRenewIdentity: {RoleForceCheckin, "Renew device identity", "given a new identity"},
}

// ParseCommandKind returns the kind with the given name.
func ParseCommandKind(s string) (CommandKind, error) {
	if _, ok := kindInfo[CommandKind(s)]; !ok {
		return "", Errorf(EINVALID, "%q is not an action; the actions are lock, unlock, locate, wipe, retire and checkin.", s)
	}
	return CommandKind(s), nil
}

// Role is the portal role that lets a user ask for this action (SPEC ROLE).
func (k CommandKind) Role() Role { return kindInfo[k].role }

// Label is the action as the portal names it.
func (k CommandKind) Label() string { return kindInfo[k].label }

// DoneLabel is what the device is once the action is done.
func (k CommandKind) DoneLabel() string { return kindInfo[k].done }

// CommandStatus is where a command is in its life (SPEC ACT-7).
type CommandStatus string

const (
	CommandQueued    CommandStatus = "queued"
	CommandHeld      CommandStatus = "held"
	CommandSent      CommandStatus = "sent"
	CommandDone      CommandStatus = "done"
	CommandFailed    CommandStatus = "failed"
	CommandExpired   CommandStatus = "expired"
	CommandCancelled CommandStatus = "cancelled"
)

// Label is the status as the portal shows it.
func (s CommandStatus) Label() string {
	if s == CommandHeld {
		return "Waiting to be released"
	}
	return DeviceStatus(s).Label()
}

// Final reports whether the command's life is over.
func (s CommandStatus) Final() bool {
	switch s {
	case CommandDone, CommandFailed, CommandExpired, CommandCancelled:
		return true
	}
	return false
}

// Command is an action on a device, from the moment it is asked for to the
// device's answer.
type Command struct {
	ID       int64           `json:"id"`
	DeviceID int64           `json:"device_id"`
	Kind     CommandKind     `json:"kind"`
	Status   CommandStatus   `json:"status"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	Result   string          `json:"result,omitempty"`
	// Data is what the device answered beyond its message: a location.
	Data      json.RawMessage `json:"data,omitempty"`
	CreatedBy string          `json:"created_by"`
	CreatedAt time.Time       `json:"created_at"`
	// ReleaseAt is when a held command (a wipe in its grace period) goes to
	// the device unless it is cancelled first.
	ReleaseAt time.Time `json:"release_at,omitzero"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	DoneAt    time.Time `json:"done_at,omitzero"`
	// AppleUUID is the CommandUUID of the MDM command last sent for it to
	// an Apple device, and AppleStep which of its MDM commands that was.
	AppleUUID string `json:"-"`
	AppleStep int    `json:"-"`
	// PIN is the six-digit PIN a Mac is locked or erased with, which its
	// user types to use it again. It is set only on the command the action
	// returns, to be shown once: the store keeps it sealed in Payload.
	PIN string `json:"pin,omitempty"`
}

// Location is where a device said it was, in a locate command's data
// (SPEC ACT-3).
type Location struct {
	Latitude  float64   `json:"latitude"`
	Longitude float64   `json:"longitude"`
	Accuracy  float64   `json:"accuracy_m"`
	At        time.Time `json:"at"`
}

// Validate refuses a location no device could have.
func (l Location) Validate() error {
	switch {
	case l.Latitude < -90 || l.Latitude > 90 || l.Longitude < -180 || l.Longitude > 180:
		return Errorf(EINVALID, "A location has a latitude from -90 to 90 and a longitude from -180 to 180.")
	case l.Accuracy < 0 || l.Accuracy > 1e6:
		return Errorf(EINVALID, "A location's accuracy is from 0 to 1,000,000 metres.")
	case l.At.IsZero():
		return Errorf(EINVALID, "A location says when the device was there (at).")
	}
	return nil
}

// Location returns the location a done locate command reported.
func (c *Command) Location() (Location, bool) {
	var l Location
	if c.Kind != CommandLocate || c.Status != CommandDone || json.Unmarshal(c.Data, &l) != nil {
		return Location{}, false
	}
	return l, true
}

// CommandResult is a device's answer to a command.
type CommandResult struct {
	Status  CommandStatus   `json:"status"` // done or failed
	Message string          `json:"message,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Validate accepts only the answers a device may give.
func (r CommandResult) Validate() error {
	if r.Status != CommandDone && r.Status != CommandFailed {
		return Errorf(EINVALID, "A command result's status is done or failed, not %q.", r.Status)
	}
	if len(r.Message) > 1000 {
		return Errorf(EINVALID, "A command result's message is at most 1000 characters.")
	}
	if len(r.Data) > 64<<10 {
		return Errorf(EINVALID, "A command result's data is at most 64 KiB.")
	}
	return nil
}
