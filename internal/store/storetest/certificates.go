package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func testCertificates(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	bob := addUser(t, st, "bob", false)
	put := func(userID int64, typ portico.CertificateType, subject string, hasKey bool) *portico.Certificate {
		t.Helper()
		c := &portico.Certificate{UserID: userID, Type: typ, Subject: subject, Issuer: "Example CA", Email: "a@example.com",
			NotAfter: base.Add(365 * 24 * time.Hour), HasKey: hasKey, UploadedAt: base}
		check(t, st.PutCertificate(ctx(t), c, store.SealedFile{PKCS12: []byte("sealed " + subject), Password: []byte("sealed password")}))
		return c
	}
	signing := put(alice.ID, portico.CertificateSigning, "Alice signing", true)
	put(alice.ID, portico.CertificateEncryption, "Alice encryption", true)
	put(bob.ID, portico.CertificateSigning, "Bob signing", true)

	got, err := st.CertificateByID(ctx(t), signing.ID)
	check(t, err)
	if got.Subject != "Alice signing" || got.Type != portico.CertificateSigning || !got.HasKey || got.Issuer != "Example CA" || got.Email != "a@example.com" {
		t.Errorf("certificate = %+v", got)
	}
	wantTime(t, "not after", got.NotAfter, base.Add(365*24*time.Hour))
	list, err := st.ListCertificates(ctx(t), alice.ID)
	check(t, err)
	if len(list) != 2 || list[0].Type != portico.CertificateSigning {
		t.Errorf("alice's certificates = %v", ids(list, func(c *portico.Certificate) int64 { return c.ID }))
	}

	// A new file of the same type replaces the old one, under the same ID.
	replaced := put(alice.ID, portico.CertificateSigning, "Alice signing 2", false)
	if replaced.ID != signing.ID {
		t.Errorf("replacing got ID %d, want %d", replaced.ID, signing.ID)
	}
	f, err := st.CertificateFile(ctx(t), signing.ID)
	check(t, err)
	if !bytes.Equal(f.PKCS12, []byte("sealed Alice signing 2")) || !bytes.Equal(f.Password, []byte("sealed password")) {
		t.Errorf("file = %q, %q", f.PKCS12, f.Password)
	}
	if got, _ := st.CertificateByID(ctx(t), signing.ID); got.HasKey || got.Subject != "Alice signing 2" {
		t.Errorf("after replacing: %+v", got)
	}

	check(t, st.DeleteCertificate(ctx(t), signing.ID))
	_, err = st.CertificateByID(ctx(t), signing.ID)
	wantCode(t, err, portico.ENOTFOUND)
	wantCode(t, st.DeleteCertificate(ctx(t), signing.ID), portico.ENOTFOUND)
	_, err = st.CertificateFile(ctx(t), signing.ID)
	wantCode(t, err, portico.ENOTFOUND)
	if list, _ := st.ListCertificates(ctx(t), bob.ID); len(list) != 1 {
		t.Errorf("deleting alice's certificate touched bob's")
	}
}
