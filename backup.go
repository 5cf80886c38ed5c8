package portico

import "time"

// BackupRecord is a backup that was taken: when, by whom and through which
// door, so that the admin portal can say when the last one was.
type BackupRecord struct {
	At     time.Time
	By     string // the actor's name
	Via    BackupVia
	Source string
}

// BackupVia is where a backup was taken.
type BackupVia string

const (
	BackupViaCLI    BackupVia = "cli"
	BackupViaPortal BackupVia = "portal"
)

// BackupReport is what checking a backup found in it without restoring it.
type BackupReport struct {
	Files   int   // entries, the database included
	Bytes   int64 // unpacked
	TakenAt time.Time
	// Schema is the database's schema version; Current is the newest this
	// build knows, which it can restore.
	Schema, Current int64
	Users, Admins   int
	Devices         int
	// SecretKey says the backup holds keys/secret.key, without which the
	// secrets sealed in its database (users' certificates) do not open.
	SecretKey bool
	// KeyFromEnv says this portal takes its secret key from the
	// environment, where a backup has no part in it.
	KeyFromEnv bool
}
