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
)

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
	ID        int64           `json:"id"`
	DeviceID  int64           `json:"device_id"`
	Kind      CommandKind     `json:"kind"`
	Status    CommandStatus   `json:"status"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Result    string          `json:"result,omitempty"`
	CreatedBy string          `json:"created_by"`
	CreatedAt time.Time       `json:"created_at"`
	SentAt    time.Time       `json:"sent_at,omitzero"`
	DoneAt    time.Time       `json:"done_at,omitzero"`
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
