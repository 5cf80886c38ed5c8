// Package store declares what the service needs from storage, one small
// interface per role. internal/store/sqlstore implements them all on SQLite
// and PostgreSQL; internal/store/storetest is the suite both must pass.
//
// Every method returns *portico.Error with ENOTFOUND for a missing row and
// ECONFLICT for a broken uniqueness rule, so the service can tell a user
// what happened without knowing which database answered.
package store

import (
	"context"
	"time"

	"github.com/portico-mdm/portico"
)

// Store is every role together, plus transactions.
type Store interface {
	Users
	Sessions
	Devices
	Commands
	Audit
	Settings
	LoginFailures

	// InTx runs fn with a Store whose writes all commit when fn returns nil
	// and none do when it returns an error: an action and its audit entry are
	// written together or not at all.
	InTx(ctx context.Context, fn func(Store) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// Users holds people and their portal roles.
type Users interface {
	// CreateUser stores u and sets its ID.
	CreateUser(ctx context.Context, u *portico.User, passwordHash string) error
	UserByID(ctx context.Context, id int64) (*portico.User, error)
	UserByUsername(ctx context.Context, username string) (*portico.User, error)
	// PasswordHash returns the user's argon2id PHC string.
	PasswordHash(ctx context.Context, userID int64) (string, error)
	SetPasswordHash(ctx context.Context, userID int64, hash string) error
	ListUsers(ctx context.Context) ([]*portico.User, error)
	SetUserRoles(ctx context.Context, userID int64, roles []portico.Role) error
	CountAdmins(ctx context.Context) (int, error)
}

// Sessions holds browser sessions. The key is a hash of the cookie's token,
// so the table never holds a live credential.
type Sessions interface {
	FindSession(ctx context.Context, key string, now time.Time) ([]byte, bool, error)
	CommitSession(ctx context.Context, key string, data []byte, expiry time.Time) error
	DeleteSession(ctx context.Context, key string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) error
}

// DeviceFilter narrows ListDevices; the zero value lists every device.
type DeviceFilter struct {
	UserID int64
	Limit  int
	Offset int
}

// Devices holds devices and their credentials.
type Devices interface {
	// CreateDevice stores d with the SHA-256 of its token and sets its ID.
	CreateDevice(ctx context.Context, d *portico.Device, tokenHash []byte) error
	// SeedDevices stores many devices at once (load tests, imports).
	SeedDevices(ctx context.Context, devices []*portico.Device, tokenHashes [][]byte) error
	DeviceByID(ctx context.Context, id int64) (*portico.Device, error)
	// DeviceByTokenHash finds the device whose credential hashes to h; a
	// revoked credential finds nothing.
	DeviceByTokenHash(ctx context.Context, h []byte) (*portico.Device, error)
	ListDevices(ctx context.Context, f DeviceFilter) ([]*portico.Device, error)
	UpdateDeviceDetails(ctx context.Context, id int64, d portico.DeviceDetails, at time.Time) error
	// TouchDevices sets the last check-in of many devices at once; the
	// service batches these frequent, rebuildable writes.
	TouchDevices(ctx context.Context, seen map[int64]time.Time) error
}

// Commands holds the actions queued for devices and their outcomes.
type Commands interface {
	// QueueCommand stores c and sets its ID.
	QueueCommand(ctx context.Context, c *portico.Command) error
	// TakeCommands marks the device's queued commands sent and returns them
	// oldest first.
	TakeCommands(ctx context.Context, deviceID int64, now time.Time) ([]*portico.Command, error)
	// FinishCommand records the device's answer to a command it was sent.
	// ENOTFOUND if the device has no such command, ECONFLICT if it is not
	// waiting for an answer.
	FinishCommand(ctx context.Context, deviceID, commandID int64, r portico.CommandResult, at time.Time) (*portico.Command, error)
	ListCommands(ctx context.Context, deviceID int64) ([]*portico.Command, error)
}

// AuditFilter narrows ListAudit; the zero value lists the newest entries.
type AuditFilter struct {
	Actor    string
	DeviceID int64
	Limit    int
}

// Audit holds the audit log, which is only ever appended to.
type Audit interface {
	AppendAudit(ctx context.Context, e *portico.AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) ([]*portico.AuditEntry, error)
}

// Settings holds the system settings' stored values.
type Settings interface {
	SettingValues(ctx context.Context) (portico.SettingValues, error)
	PutSetting(ctx context.Context, key, value string) error
}

// LoginFailures counts failed sign-ins per key (a user name or a source
// address) so that throttling survives restarts and is shared by every
// instance.
type LoginFailures interface {
	RecordLoginFailure(ctx context.Context, key string, at time.Time) error
	// LoginFailuresSince returns how many failures the key had since the
	// time, and when the latest was.
	LoginFailuresSince(ctx context.Context, key string, since time.Time) (int, time.Time, error)
	ClearLoginFailures(ctx context.Context, key string) error
	// DeleteLoginFailuresBefore forgets failures too old to count for any key.
	DeleteLoginFailuresBefore(ctx context.Context, before time.Time) error
}
