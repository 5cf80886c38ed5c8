package portico

import "time"

// AuditEntry records who did what, to which device, from where, and how it
// ended (SPEC ACT-8).
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Target   string    `json:"target,omitempty"`
	DeviceID int64     `json:"device_id,omitempty"`
	Source   string    `json:"source,omitempty"`
	Result   string    `json:"result"`
	Detail   string    `json:"detail,omitempty"`
}

// Audit results.
const (
	ResultOK     = "ok"
	ResultDenied = "denied"
	ResultFailed = "failed"
)
