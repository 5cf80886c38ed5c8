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
	AppleMDM
	Audit
	Settings
	Branding
	Backups
	LoginFailures
	Outbox
	APIKeys
	PushCertificates
	TwoFactor
	RoleSets
	PasswordResets

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
	// SetPasswordHash stores the password the user chose, which ends the
	// need to change a temporary one.
	SetPasswordHash(ctx context.Context, userID int64, hash string) error
	// SetTemporaryPassword stores a password an admin gave, which the user
	// must change at the next sign-in.
	SetTemporaryPassword(ctx context.Context, userID int64, hash string) error
	// SetUserDisabled disables or enables the user.
	SetUserDisabled(ctx context.Context, userID int64, disabled bool) error
	// SearchUsers lists users by user name whose user name, name or email
	// address contains the filter's text, in any case, a page at a time.
	SearchUsers(ctx context.Context, f UserFilter) ([]*portico.User, error)
	// ExistingUsernames returns those of the names that users have, in any
	// case, as the users spell them.
	ExistingUsernames(ctx context.Context, names []string) ([]string, error)
	// ExistingEmails returns those of the email addresses that users have,
	// in any case, as the users write them, each once.
	ExistingEmails(ctx context.Context, emails []string) ([]string, error)
	// UpdateUser stores u's name, email address and phone number;
	// ECONFLICT when another user has that email address, in any case.
	UpdateUser(ctx context.Context, u *portico.User) error
	// EndUserSessions moves the user's session epoch on, which ends every
	// browser session signed in under an earlier one, and returns the new
	// epoch.
	EndUserSessions(ctx context.Context, userID int64) (int64, error)
	ListUsers(ctx context.Context) ([]*portico.User, error)
	// Usernames returns the user names of the users with the IDs; an ID
	// with no user is left out.
	Usernames(ctx context.Context, ids []int64) (map[int64]string, error)
	SetUserRoles(ctx context.Context, userID int64, roles []portico.Role) error
	CountAdmins(ctx context.Context) (int, error)
}

// UserFilter narrows SearchUsers; the zero value lists every user.
type UserFilter struct {
	Query  string
	Limit  int
	Offset int
}

// RoleSets holds the named sets of portal roles and who is in them. Users
// loaded through Users have the roles of their sets in Roles.
type RoleSets interface {
	// CreateRoleSet stores s and sets its ID; ECONFLICT when another set
	// has the name, in any case.
	CreateRoleSet(ctx context.Context, s *portico.RoleSet) error
	// UpdateRoleSet stores s's name and roles.
	UpdateRoleSet(ctx context.Context, s *portico.RoleSet) error
	// DeleteRoleSet deletes the set; its members lose its roles.
	DeleteRoleSet(ctx context.Context, id int64) error
	RoleSetByID(ctx context.Context, id int64) (*portico.RoleSet, error)
	// ListRoleSets lists every set by name, with its count of members.
	ListRoleSets(ctx context.Context) ([]*portico.RoleSet, error)
	// AddToRoleSet puts the users in the set; those in it already stay.
	AddToRoleSet(ctx context.Context, setID int64, userIDs []int64) error
	// RemoveFromRoleSet takes the users out of the set.
	RemoveFromRoleSet(ctx context.Context, setID int64, userIDs []int64) error
	// UserRoleSets lists the sets the user is in, by name.
	UserRoleSets(ctx context.Context, userID int64) ([]*portico.RoleSet, error)
	// RoleSetMembers lists the IDs of the set's members.
	RoleSetMembers(ctx context.Context, setID int64) ([]int64, error)
}

// PasswordResets holds the one-time links to set a new password. Using a
// link is conditional on it being unused and unexpired, so it works once.
type PasswordResets interface {
	// CreatePasswordReset stores r with its token's hash and sets its ID.
	CreatePasswordReset(ctx context.Context, r *portico.PasswordReset, tokenHash []byte) error
	PasswordResetByTokenHash(ctx context.Context, h []byte) (*portico.PasswordReset, error)
	// UsePasswordReset marks the link used at the time; ECONFLICT when it
	// was used or had expired by then.
	UsePasswordReset(ctx context.Context, id int64, at time.Time) error
	// EndPasswordResets marks every unused link of the user used at the
	// time, so that none works after a newer link or another password.
	EndPasswordResets(ctx context.Context, userID int64, at time.Time) error
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
// The fields combine: a device must match every one that is set.
type DeviceFilter struct {
	UserID    int64
	Platform  portico.Platform
	Status    portico.DeviceStatus
	Ownership portico.Ownership
	// Owner is the owner's user name, in any case.
	Owner string
	// NotSeenSince keeps the devices whose last check-in is before it, and
	// those never seen at all.
	NotSeenSince time.Time
	// Search is part of the name, model, serial number, or owner's user
	// name or name, in any case.
	Search string
	// AfterID lists the devices after this one, so that an export pages
	// through a large fleet without counting past the rows it has read.
	AfterID int64
	Limit   int
	Offset  int
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
	// time, with a credential of the token's hash (none for nil: an Apple
	// device shows its certificate). ECONFLICT if the device is not
	// pending.
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
	// SetCommandPayload replaces the payload of a command not yet final.
	SetCommandPayload(ctx context.Context, id int64, payload []byte) error
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

// AppleMDM holds what Apple MDM needs beyond devices and commands (SPEC
// APPLE-1): SCEP challenges, issued identities, enrollments, and the MDM
// commands in flight.
type AppleMDM interface {
	// CreateAppleChallenge stores c with the hash of its secret and sets
	// its ID; a device has one challenge at a time, so the one before
	// stops working.
	CreateAppleChallenge(ctx context.Context, c *portico.AppleChallenge, hash []byte) error
	// UseAppleChallenge takes one use of the challenge of this hash that
	// has uses left and has not expired at now; ENOTFOUND when there is
	// none. Two uses at once of a last use cannot both win.
	UseAppleChallenge(ctx context.Context, hash []byte, now time.Time) (*portico.AppleChallenge, error)
	PutAppleCertificate(ctx context.Context, c *portico.AppleCertificate) error
	AppleCertificate(ctx context.Context, fingerprint []byte) (*portico.AppleCertificate, error)
	// PutAppleEnrollment stores the device's enrollment, replacing the one
	// before; ECONFLICT when another device enrolled with the UDID.
	PutAppleEnrollment(ctx context.Context, e *portico.AppleEnrollment) error
	AppleEnrollment(ctx context.Context, deviceID int64) (*portico.AppleEnrollment, error)
	// ReleaseAppleUDID forgets the enrollments with the UDID of devices
	// that were retired or wiped, so that the device may enroll again.
	ReleaseAppleUDID(ctx context.Context, udid string) error
	// SetAppleState records whether the device is supervised and in lost
	// mode.
	SetAppleState(ctx context.Context, deviceID int64, supervised, lostMode bool, at time.Time) error
	// ClearApplePushToken forgets the device's push token and magic, which
	// Apple refused for good: the device is pushed again only after its
	// next TokenUpdate. ENOTFOUND for a device not enrolled.
	ClearApplePushToken(ctx context.Context, deviceID int64, at time.Time) error
	// SendAppleCommand marks the device's oldest queued command sent with
	// the CommandUUID and returns it; ENOTFOUND when none is queued.
	SendAppleCommand(ctx context.Context, deviceID int64, uuid string, now time.Time) (*portico.Command, error)
	// AppleCommand returns the device's command last sent with the
	// CommandUUID.
	AppleCommand(ctx context.Context, deviceID int64, uuid string) (*portico.Command, error)
	// RequeueAppleCommand queues a sent command again at the step, for the
	// device's next poll; ECONFLICT when it is no longer sent.
	RequeueAppleCommand(ctx context.Context, id int64, step int) error
	// UpdateAppleToken records a TokenUpdate: the push token, push magic
	// and topic, and the unlock token when it is not nil, leaving the rest
	// of the enrollment as it is. It reports whether the device had no
	// push token before; ENOTFOUND when the device is not enrolled.
	UpdateAppleToken(ctx context.Context, deviceID int64, t AppleToken, at time.Time) (first bool, err error)
	// RebindAppleIdentity binds the enrollment to the renewed identity to,
	// in place of from; ECONFLICT when it is no longer bound to from.
	RebindAppleIdentity(ctx context.Context, deviceID int64, from, to []byte, at time.Time) error
	// AppleEnrollmentByUDID returns the enrollment holding the UDID.
	AppleEnrollmentByUDID(ctx context.Context, udid string) (*portico.AppleEnrollment, error)
	// DeleteAppleEnrollment forgets the device's enrollment, which frees
	// its UDID; ENOTFOUND when it has none.
	DeleteAppleEnrollment(ctx context.Context, deviceID int64) error
	// RequeueSentAppleCommands queues again, at their steps, the device's
	// commands that were sent and not answered, and returns how many.
	RequeueSentAppleCommands(ctx context.Context, deviceID int64) (int, error)
}

// AppleToken is what a TokenUpdate says of how to reach a device.
type AppleToken struct {
	PushToken []byte
	PushMagic string
	Topic     string
	// UnlockToken, sealed, replaces the one kept when it is not nil.
	UnlockToken []byte
}

// AuditFilter narrows ListAudit; the zero value lists the newest entries.
// The fields combine: an entry must match every one that is set.
type AuditFilter struct {
	Actor    string
	DeviceID int64
	// Action is an action ("device.wipe") or the part before its dot
	// ("device"), which matches every action of that kind.
	Action string
	// Result is portico.ResultOK, ResultDenied or ResultFailed.
	Result string
	// From and To keep the entries at or after From and before To.
	From, To time.Time
	// BeforeID lists the entries older than this one, so that an export
	// pages through a long log without counting past the rows it has read.
	BeforeID int64
	Limit    int
	Offset   int
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
	// EnqueuePush queues m, a push to m.DeviceID, unless a push to that
	// device waits untried: pushes coalesce, and the waiting one wakes the
	// device after the caller's transaction commits. It reports whether it
	// queued m, and sets m.ID to the push that will go either way. The push
	// it finds stays locked until the caller's transaction ends, so that no
	// worker sends it before what the caller writes is committed.
	EnqueuePush(ctx context.Context, m *portico.Message) (bool, error)
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

// APIKeys holds the admin API's keys (SPEC ADM-4) under the SHA-256 of the
// key. Revoking is conditional on the key not being revoked yet.
type APIKeys interface {
	// CreateAPIKey stores k with the hash of its key and sets its ID;
	// ECONFLICT when another key has its name, in any case.
	CreateAPIKey(ctx context.Context, k *portico.APIKey, tokenHash []byte) error
	APIKeyByID(ctx context.Context, id int64) (*portico.APIKey, error)
	// APIKeyByTokenHash finds the key that hashes to h, revoked and expired
	// keys included: the caller says why such a key no longer works.
	APIKeyByTokenHash(ctx context.Context, h []byte) (*portico.APIKey, error)
	// ListAPIKeys lists every key, newest first.
	ListAPIKeys(ctx context.Context) ([]*portico.APIKey, error)
	// RevokeAPIKey marks the key revoked at the time; ECONFLICT when it was
	// revoked already.
	RevokeAPIKey(ctx context.Context, id int64, at time.Time) error
	// TouchAPIKey records that the key was used at the time.
	TouchAPIKey(ctx context.Context, id int64, at time.Time) error
}

// PushCertificates holds the MDM push certificate (SPEC APPLE-1): at most
// one, shared by every instance.
type PushCertificates interface {
	// PutPushCertificate stores c and its private key, sealed, replacing
	// the certificate there was.
	PutPushCertificate(ctx context.Context, c *portico.PushCertificate, sealedKey []byte) error
	// PushCertificate returns the certificate and its sealed private key;
	// ENOTFOUND when none was uploaded.
	PushCertificate(ctx context.Context) (*portico.PushCertificate, []byte, error)
	// DeletePushCertificate removes the certificate; ENOTFOUND when there
	// is none.
	DeletePushCertificate(ctx context.Context) error
}

// TwoFactor holds the users' second factors (SPEC LOGIN-2): one TOTP
// secret per user and, once it is enabled, its recovery codes. Accepting a
// code is a write conditional on it not having been accepted before, so
// that a code replayed, even at the same moment, is refused.
type TwoFactor interface {
	// PutPendingTOTP stores a secret the user is setting up, replacing one
	// not yet enabled; ECONFLICT when the user's second factor is enabled.
	PutPendingTOTP(ctx context.Context, t *portico.TOTP) error
	// TOTP returns the user's second factor; ENOTFOUND when there is none.
	TOTP(ctx context.Context, userID int64) (*portico.TOTP, error)
	// EnableTOTP enables the user's pending secret at the time, with the
	// step of the code that confirmed it, and stores the SHA-256 of its
	// recovery codes; ECONFLICT when it is not pending.
	EnableTOTP(ctx context.Context, userID, step int64, at time.Time, recoveryHashes [][]byte) error
	// UseTOTPStep accepts a code of the step for the user's enabled
	// secret; ECONFLICT when a code of this step or a later one was.
	UseTOTPStep(ctx context.Context, userID, step int64) error
	// UseRecoveryCode marks the user's unused recovery code of this hash
	// used at the time; ENOTFOUND when there is none.
	UseRecoveryCode(ctx context.Context, userID int64, hash []byte, at time.Time) error
	// RecoveryCodesLeft counts the user's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID int64) (int, error)
	// DeleteTOTP forgets the user's second factor and recovery codes; it
	// is not an error when there is none.
	DeleteTOTP(ctx context.Context, userID int64) error
}
