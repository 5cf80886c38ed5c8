package service_test

import (
	"bytes"
	"context"
	"database/sql"
	"image"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/backup"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
)

// TestMessagesNameThePortal: invitations go out under the portal's name,
// not a product's.
func TestMessagesNameThePortal(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.SetSettings(e.op, map[string]string{"branding.name": "ACME Devices"}); err != nil {
		t.Fatal(err)
	}
	u, _, err := e.svc.CreateUser(e.op, service.NewUser{User: portico.User{
		Username: "alice", Email: "alice@example.com", Phone: "+1 555 0100", Roles: []portico.Role{portico.RoleRegisterDevice},
	}, Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartRegistration(as(u), portico.InviteByMessage, portico.PlatformIOS); err != nil {
		t.Fatal(err)
	}
	msgs, _ := e.db.ListMessages(context.Background(), store.MessageFilter{})
	var mail, sms *portico.Message
	for _, m := range msgs {
		if m.Channel == portico.ChannelMail {
			mail = m
		} else {
			sms = m
		}
	}
	if mail == nil || mail.Subject != "Register your iPhone with ACME Devices" || !strings.Contains(mail.Text, "to register your iPhone with ACME Devices,") ||
		!strings.HasSuffix(mail.Text, "— ACME Devices\n") || strings.Contains(mail.Text, "Portico") {
		t.Errorf("mail = %+v", mail)
	}
	if sms == nil || !strings.HasPrefix(sms.Text, "ACME Devices: register your iPhone: ") {
		t.Errorf("sms = %+v", sms)
	}
	v, _ := e.svc.Settings(e.op)
	if v.MailFromName() != "ACME Devices" {
		t.Errorf("the sender name is %q, want the portal's", v.MailFromName())
	}
}

func TestLogoIsForAdmins(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)))
	_, err := e.svc.SetLogo(as(alice), b.Bytes())
	wantCode(t, err, portico.EFORBIDDEN)
	_, err = e.svc.SetLogo(context.Background(), b.Bytes())
	wantCode(t, err, portico.EUNAUTHENTICATED)
	wantCode(t, e.svc.RemoveLogo(as(alice)), portico.EFORBIDDEN)
	if _, err := e.svc.Logo(context.Background()); portico.ErrorCode(err) != portico.ENOTFOUND {
		t.Errorf("a refused upload stored a logo: %v", err)
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "alice"})
	if len(entries) != 2 || entries[0].Result != portico.ResultDenied || entries[1].Action != "branding.logo" {
		t.Errorf("audit = %+v", entries)
	}
	brand, err := e.svc.Brand(context.Background())
	if err != nil || brand.Logo != nil || brand.Name != portico.DefaultPortalName || brand.Color != portico.DefaultBrandColor {
		t.Errorf("brand = %+v, %v", brand, err)
	}
}

// TestBackupsRecordWhoTookThem: the command line and the portal take the
// same backups, each recorded with where it was taken.
func TestBackupsRecordWhoTookThem(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db, err := sqlstore.Open(ctx, data+"/"+backup.DBFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Config{Store: db, Passwords: secret.Cheap, Backups: backup.Maker{DB: db, Data: data}})
	cli := portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: "cli"})
	root, _, err := svc.CreateUser(cli, service.NewUser{User: portico.User{Username: "root", Email: "root@example.com", Admin: true}, Password: "root-password"})
	if err != nil {
		t.Fatal(err)
	}
	alice, _, err := svc.CreateUser(cli, service.NewUser{User: portico.User{Username: "alice", Email: "alice@example.com"}, Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}

	st, err := svc.BackupStatus(as(root))
	if err != nil || !st.Available || st.Last != nil || st.DataDir != data {
		t.Errorf("status before any backup = %+v, %v", st, err)
	}
	if err := svc.WriteBackup(cli, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, _ = svc.BackupStatus(as(root))
	if st.Last == nil || st.Last.Via != portico.BackupViaCLI || st.Last.By != "system" {
		t.Errorf("after the command line's backup: %+v", st.Last)
	}
	if err := svc.WriteBackup(as(root), io.Discard); err != nil {
		t.Fatal(err)
	}
	st, _ = svc.BackupStatus(as(root))
	if st.Last == nil || st.Last.Via != portico.BackupViaPortal || st.Last.By != "root" || st.Last.Source != "192.0.2.1" {
		t.Errorf("after the portal's backup: %+v", st.Last)
	}
	var leaked bytes.Buffer
	wantCode(t, svc.WriteBackup(as(alice), &leaked), portico.EFORBIDDEN)
	if leaked.Len() != 0 {
		t.Error("a refused backup wrote data")
	}
	_, err = svc.VerifyBackup(as(alice), strings.NewReader("x"))
	wantCode(t, err, portico.EFORBIDDEN)
	_, err = svc.BackupStatus(as(alice))
	wantCode(t, err, portico.EFORBIDDEN)

	// Without a backup maker (PostgreSQL), the portal says how instead.
	pg := service.New(service.Config{Store: db, Passwords: secret.Cheap})
	err = pg.WriteBackup(as(root), io.Discard)
	if portico.ErrorCode(err) != portico.ECONFLICT || !strings.Contains(portico.ErrorMessage(err), "pg_dump") {
		t.Errorf("backup without a maker: %v", err)
	}
	if st, _ := pg.BackupStatus(as(root)); st.Available {
		t.Error("backups are available without a maker")
	}
}

// TestABackupIsKeptWhenRecordingItFails: the backup is whole by the time
// it is recorded, and losing it for a failed record would leave the admin
// without one.
func TestABackupIsKeptWhenRecordingItFails(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db, err := sqlstore.Open(ctx, data+"/"+backup.DBFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", data+"/"+backup.DBFile)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("DROP TABLE backups"); err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Config{Store: db, Passwords: secret.Cheap, Backups: backup.Maker{DB: db, Data: data}})
	cli := portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: "cli"})
	var b bytes.Buffer
	if err := svc.WriteBackup(cli, &b); err != nil {
		t.Fatalf("WriteBackup: %v", err)
	}
	if _, err := backup.Verify(ctx, &b, backup.RestoreLimits); err != nil {
		t.Errorf("the backup written: %v", err)
	}
}

// TestOneBackupAtATime: taking or checking a backup reads the whole
// database; a second one while the first runs is turned away.
func TestOneBackupAtATime(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db, err := sqlstore.Open(ctx, data+"/"+backup.DBFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Config{Store: db, Passwords: secret.Cheap, Backups: backup.Maker{DB: db, Data: data}})
	cli := portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: "cli"})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := svc.WriteBackup(cli, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	// The first byte read, the first backup is under way.
	first := make([]byte, 1)
	if _, err := io.ReadFull(pr, first); err != nil {
		t.Fatal(err)
	}
	err = svc.WriteBackup(cli, io.Discard)
	if portico.ErrorCode(err) != portico.ETHROTTLED || !strings.Contains(portico.ErrorMessage(err), "try again in a moment") {
		t.Errorf("a second backup: %v", err)
	}
	_, err = svc.VerifyBackup(cli, strings.NewReader("x"))
	wantCode(t, err, portico.ETHROTTLED)
	rest, err := io.ReadAll(pr)
	if err != nil || <-done != nil {
		t.Fatalf("the first backup: %v", err)
	}
	if _, err := backup.Verify(ctx, io.MultiReader(bytes.NewReader(first), bytes.NewReader(rest)), backup.RestoreLimits); err != nil {
		t.Errorf("the first backup is not whole: %v", err)
	}
	if err := svc.WriteBackup(cli, io.Discard); err != nil {
		t.Errorf("a backup after the first: %v", err)
	}
}
