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
	Invitations
	Certificates
	DerivedCredentials
	SecureApps
	Commands
	Audit
	Settings
	Branding
	Backups
	LoginFailures
	Outbox

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
	// UpdateUser stores u's name and email address; ECONFLICT when another
	// user has that email address, in any case.
	UpdateUser(ctx context.Context, u *portico.User) error
	// EndUserSessions moves the user's session epoch on, which ends every
	// browser session signed in under an earlier one, and returns the new
	// epoch.
	EndUserSessions(ctx context.Context, userID int64) (int64, error)
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
	// CreateDevice stores d with the SHA-256 of its token and sets its ID; a
	// pending device has no token yet (nil).
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
	// ActivateDevice completes the registration of a pending device: its
	// platform and details as the device reports them, active since the
	// time, with a credential of the token's hash. ECONFLICT if the device
	// is not pending.
	ActivateDevice(ctx context.Context, d *portico.Device, tokenHash []byte) error
	// DeletePendingDevice removes a device whose registration never
	// completed; ECONFLICT if it is not pending.
	DeletePendingDevice(ctx context.Context, id int64) error
	// EndDevice marks an active device wiped or retired and revokes its
	// credentials, so its token stops working at once; ECONFLICT if it is
	// not active.
	EndDevice(ctx context.Context, id int64, status portico.DeviceStatus) error
	SetOwnership(ctx context.Context, id int64, o portico.Ownership) error
}

// Invitations holds registrations in progress (SPEC REG-1..REG-6). Every
// change of status is conditional on the invitation being pending, so two
// devices racing for one invitation cannot both win: the loser gets
// ECONFLICT.
type Invitations interface {
	// CreateInvitation stores inv with the hash of its link's token and the
	// argon2id hash of its PIN ("" for none), and sets its ID.
	CreateInvitation(ctx context.Context, inv *portico.Invitation, tokenHash []byte, pinHash string) error
	InvitationByID(ctx context.Context, id int64) (*portico.Invitation, error)
	InvitationByTokenHash(ctx context.Context, h []byte) (*portico.Invitation, error)
	// PendingInvitations lists the user's pending invitations, oldest first,
	// expired by time or not.
	PendingInvitations(ctx context.Context, userID int64) ([]*portico.Invitation, error)
	// InvitationPINHash returns the argon2id hash of the invitation's PIN.
	InvitationPINHash(ctx context.Context, id int64) (string, error)
	// TakePINAttempt counts a try of the invitation's PIN before it is
	// checked, so that tries made at the same moment see each other; it
	// returns false, counting nothing, once max tries were taken.
	TakePINAttempt(ctx context.Context, id int64, max int) (bool, error)
	// RenewInvitation gives a pending invitation a new token, PIN and
	// lifetime, and forgets its wrong PINs: the old link stops working.
	RenewInvitation(ctx context.Context, inv *portico.Invitation, tokenHash []byte, pinHash string) error
	// CloseInvitation moves a pending invitation to status (used, cancelled
	// or expired) at the time.
	CloseInvitation(ctx context.Context, id int64, status portico.InvitationStatus, at time.Time) error
	// ExpiredInvitations lists pending invitations whose time ran out.
	ExpiredInvitations(ctx context.Context, now time.Time) ([]*portico.Invitation, error)
}

// SealedFile is a PKCS#12 file and its password, each sealed with the key
// kept outside the database (internal/secret).
type SealedFile struct {
	PKCS12, Password []byte
}

// Certificates holds the S/MIME certificates users uploaded (SPEC CERT-1),
// at most one of each type per user.
type Certificates interface {
	// PutCertificate stores cert, replacing the user's certificate of its
	// type if there is one, and sets its ID.
	PutCertificate(ctx context.Context, cert *portico.Certificate, f SealedFile) error
	CertificateByID(ctx context.Context, id int64) (*portico.Certificate, error)
	CertificateFile(ctx context.Context, id int64) (SealedFile, error)
	// ListCertificates lists the user's certificates, signing first.
	ListCertificates(ctx context.Context, userID int64) ([]*portico.Certificate, error)
	DeleteCertificate(ctx context.Context, id int64) error
}

// DerivedCredentials holds the users' trips to the derived-credential
// provider (SPEC DERIV-2). A request's state is kept as its SHA-256 and is
// answered at most once: the answer is a write conditional on the request
// still waiting, so two returns racing with one state cannot both count.
type DerivedCredentials interface {
	// CreateDerivedRequest stores r with the hash of its state and sets its
	// ID.
	CreateDerivedRequest(ctx context.Context, r *portico.DerivedRequest, stateHash []byte) error
	DerivedRequestByStateHash(ctx context.Context, h []byte) (*portico.DerivedRequest, error)
	// AnswerDerivedRequest records the provider's answer (succeeded or
	// failed) to a pending request that has not expired at now; ECONFLICT
	// when it was answered or expired, ENOTFOUND when there is none.
	AnswerDerivedRequest(ctx context.Context, id int64, status portico.DerivedStatus, now time.Time) error
	// DerivedCredentialIssued reports whether a request for the
	// registration succeeded.
	DerivedCredentialIssued(ctx context.Context, invitationID int64) (bool, error)
	// DeleteExpiredDerivedRequests forgets the requests never answered that
	// expired before the time; answered ones stay as the record.
	DeleteExpiredDerivedRequests(ctx context.Context, before time.Time) error
}

// SecureApps holds what recovering a secure apps passcode needs (SPEC
// SECPIN-2, SECPIN-3): the secret each device registered with, and each
// user's one-time PIN. Using a PIN is conditional on it being the user's
// current, unused, unexpired one, so two uses at once cannot both win.
type SecureApps interface {
	// SetRegisteredWith records the secret the device registered with.
	SetRegisteredWith(ctx context.Context, deviceID int64, w portico.RegisteredWith) error
	// RegisteredWith returns what SetRegisteredWith recorded; ENOTFOUND for
	// a device that registered before it was recorded, or was seeded.
	RegisteredWith(ctx context.Context, deviceID int64) (portico.RegisteredWith, error)
	// PutSecureAppsPIN stores the argon2id hash of the user's one-time PIN,
	// replacing the one before, used or not, with its count of tries.
	PutSecureAppsPIN(ctx context.Context, p *portico.SecureAppsPIN, hash string) error
	// SecureAppsPIN returns the user's one-time PIN and its hash; ENOTFOUND
	// when the user never had one.
	SecureAppsPIN(ctx context.Context, userID int64) (*portico.SecureAppsPIN, string, error)
	// TakeSecureAppsPINAttempt counts a try of the user's PIN of this hash
	// before it is checked; it returns false, counting nothing, once max
	// tries were taken or when that PIN was replaced.
	TakeSecureAppsPINAttempt(ctx context.Context, userID int64, hash string, max int) (bool, error)
	// UseSecureAppsPIN marks the user's PIN of this hash used at the time;
	// ECONFLICT when it was used, replaced or expired by then.
	UseSecureAppsPIN(ctx context.Context, userID int64, hash string, at time.Time) error
	// DeleteSecureAppsPIN forgets the user's one-time PIN, if any.
	DeleteSecureAppsPIN(ctx context.Context, userID int64) error
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
	CommandByID(ctx context.Context, id int64) (*portico.Command, error)
	HasQueuedCommands(ctx context.Context, deviceID int64) (bool, error)
	// OpenCommand returns the device's oldest command of the kind that is
	// held, queued or sent, or ENOTFOUND.
	OpenCommand(ctx context.Context, deviceID int64, kind portico.CommandKind) (*portico.Command, error)
	// CancelCommand cancels a held or queued command; ECONFLICT once it was
	// sent or ended.
	CancelCommand(ctx context.Context, id int64, at time.Time) (*portico.Command, error)
	// ReleaseCommands queues the held commands whose release time came, and
	// returns them.
	ReleaseCommands(ctx context.Context, now time.Time) ([]*portico.Command, error)
	// ExpireCommands ends the queued commands no device collected since
	// queuedBefore and the sent ones no device answered since sentBefore,
	// and returns them.
	ExpireCommands(ctx context.Context, queuedBefore, sentBefore, now time.Time) ([]*portico.Command, error)
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

// Branding holds the portal's logo; its name, colour and sign-in text are
// settings.
type Branding interface {
	// PutLogo stores the logo, replacing the one before.
	PutLogo(ctx context.Context, l *portico.Logo) error
	// Logo returns the logo, with its image only when withData; ENOTFOUND
	// when there is none.
	Logo(ctx context.Context, withData bool) (*portico.Logo, error)
	// DeleteLogo removes the logo; ENOTFOUND when there is none.
	DeleteLogo(ctx context.Context) error
}

// Backups records the backups taken.
type Backups interface {
	RecordBackup(ctx context.Context, b *portico.BackupRecord) error
	// LastBackup returns the newest backup; ENOTFOUND when none was taken.
	LastBackup(ctx context.Context) (*portico.BackupRecord, error)
}

// LoginFailures counts failed sign-ins per key (a user name or a source
// address) so that throttling survives restarts and is shared by every
// instance. An attempt is recorded before its secret is checked, so that
// attempts made at the same moment count against each other.
type LoginFailures interface {
	// RecordLoginFailure records an attempt as failed until told otherwise,
	// and returns its id; ids grow in the order attempts were recorded.
	RecordLoginFailure(ctx context.Context, key string, at time.Time) (int64, error)
	// LoginFailuresBefore returns how many failures the key had since the
	// time that were recorded before the attempt id, and when the latest was.
	LoginFailuresBefore(ctx context.Context, key string, since time.Time, id int64) (int, time.Time, error)
	// DeleteLoginFailure forgets one attempt: it succeeded, or was refused
	// before its secret was checked.
	DeleteLoginFailure(ctx context.Context, id int64) error
	ClearLoginFailures(ctx context.Context, key string) error
	// DeleteLoginFailuresBefore forgets failures too old to count for any key.
	DeleteLoginFailuresBefore(ctx context.Context, before time.Time) error
}

// MessageFilter narrows ListMessages; the zero value lists the newest
// messages of every status and channel.
type MessageFilter struct {
	Status  portico.MessageStatus
	Channel portico.Channel
	Limit   int
}

// Outbox holds mail and SMS on their way out (SPEC OPS-2). A message is
// written in the transaction of the action that causes it and delivered by
// the workers of internal/outbox, which claim it for a lease so that one
// worker at a time tries it, on any number of instances.
type Outbox interface {
	// EnqueueMessage checks m, stores it pending and due at once (at its
	// CreatedAt), and sets its ID and Status.
	EnqueueMessage(ctx context.Context, m *portico.Message) error
	// ClaimMessages takes up to limit pending messages of the channels that
	// are due at now, oldest due first, and counts a try of each: they are
	// due again at now+lease, so a worker that dies lets another try them.
	ClaimMessages(ctx context.Context, channels []portico.Channel, now time.Time, lease time.Duration, limit int) ([]*portico.Message, error)
	// MarkMessageSent, RetryMessage and FailMessage record the outcome of
	// the try m was claimed for. They refuse with ECONFLICT when the lease
	// ran out and the message was claimed again (or finished) since.
	MarkMessageSent(ctx context.Context, m *portico.Message, at time.Time) error
	// RetryMessage keeps m pending, due again at next.
	RetryMessage(ctx context.Context, m *portico.Message, lastError string, next time.Time) error
	// FailMessage gives up on m after its last try.
	FailMessage(ctx context.Context, m *portico.Message, lastError string) error
	// ListMessages lists messages newest first.
	ListMessages(ctx context.Context, f MessageFilter) ([]*portico.Message, error)
	MessageByID(ctx context.Context, id int64) (*portico.Message, error)
	// DeleteFinishedMessages deletes the sent and failed messages created
	// before the time: their text may hold registration links and PINs.
	DeleteFinishedMessages(ctx context.Context, before time.Time) error
}
