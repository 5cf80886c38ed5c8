package service

import (
	"context"
	"fmt"
	"io"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// Backups takes and checks backups of the installation (internal/backup).
// It is nil with PostgreSQL, whose database is backed up with its own
// tools.
type Backups interface {
	Write(ctx context.Context, w io.Writer) (int64, error)
	Verify(ctx context.Context, r io.Reader) (portico.BackupReport, error)
	// Dir is the data directory backed up.
	Dir() string
}

// errNoBackups is the answer where the database is PostgreSQL.
func errNoBackups() error {
	return portico.Errorf(portico.ECONFLICT, "This installation keeps its data in PostgreSQL: back the database up with pg_dump, and copy the data directory's files.")
}

// BackupStatus is what the admin portal's backup page shows.
type BackupStatus struct {
	// Available says Portico takes backups itself: not with PostgreSQL.
	Available bool
	DataDir   string
	// Last is the newest backup taken, nil when none was.
	Last *portico.BackupRecord
}

// BackupStatus says whether Portico takes backups here and when the last
// one was taken (admins only).
func (s *Service) BackupStatus(ctx context.Context) (BackupStatus, error) {
	if err := requireAdmin(ctx); err != nil {
		return BackupStatus{}, err
	}
	var st BackupStatus
	if s.backups != nil {
		st.Available, st.DataDir = true, s.backups.Dir()
	}
	last, err := s.store.LastBackup(ctx)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return st, nil
	}
	st.Last = last
	return st, err
}

// WriteBackup writes a consistent backup to w (admins, and the operator at
// the command line), and records it: when, by whom, and from where. A
// backup that failed half-way is audited as failed and not recorded; one
// that is whole is kept even when recording it fails.
func (s *Service) WriteBackup(ctx context.Context, w io.Writer) error {
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "backup.take"}, err)
		return err
	}
	if s.backups == nil {
		return errNoBackups()
	}
	release, err := s.oneBackup()
	if err != nil {
		return err
	}
	defer release()
	a := portico.ActorFromContext(ctx)
	via := portico.BackupViaCLI
	if a.User != nil {
		via = portico.BackupViaPortal
	}
	n, err := s.backups.Write(ctx, w)
	if err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "backup.take", Target: string(via), Result: portico.ResultFailed}, err)
		return err
	}
	rec := &portico.BackupRecord{At: s.clock.Now(), By: a.Name(), Via: via, Source: a.Source}
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.RecordBackup(ctx, rec); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "backup.take", Target: string(via), Detail: fmt.Sprintf("%d bytes", n)})
	})
	if err != nil {
		// The backup is whole and written: failing now would have the
		// command line delete it and the browser drop the download, for
		// want of a line in a table.
		s.log.ErrorContext(ctx, "recording a backup taken", "via", via, "bytes", n, "err", err)
	}
	return nil
}

// VerifyBackup checks an uploaded backup without restoring it (admins
// only): that it is a backup, that it reads to its end, that its database
// opens and is not of a newer schema than this build's, and what it holds.
func (s *Service) VerifyBackup(ctx context.Context, r io.Reader) (portico.BackupReport, error) {
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "backup.verify"}, err)
		return portico.BackupReport{}, err
	}
	if s.backups == nil {
		return portico.BackupReport{}, errNoBackups()
	}
	release, err := s.oneBackup()
	if err != nil {
		return portico.BackupReport{}, err
	}
	defer release()
	rep, err := s.backups.Verify(ctx, r)
	result, detail := portico.ResultOK, fmt.Sprintf("schema %d, %d users, %d devices", rep.Schema, rep.Users, rep.Devices)
	if err != nil {
		result, detail = portico.ResultFailed, portico.ErrorMessage(err)
	}
	if aerr := s.audit(ctx, s.store, portico.AuditEntry{Action: "backup.verify", Result: result, Detail: detail}); aerr != nil {
		return rep, aerr
	}
	return rep, err
}

// oneBackup takes the instance's one slot for taking or checking a
// backup: each reads or writes the whole database, and a few at once,
// started by a double click or a script, would starve the pages.
func (s *Service) oneBackup() (release func(), err error) {
	select {
	case s.backingUp <- struct{}{}:
		return func() { <-s.backingUp }, nil
	default:
		return nil, portico.Errorf(portico.ETHROTTLED, "A backup is being made or checked; try again in a moment.")
	}
}
