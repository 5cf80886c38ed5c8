package selfsigned

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureRenewsBeforeExpiry(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	expires := start.AddDate(2, 0, 0)
	tests := []struct {
		name  string
		later time.Time
		made  bool
	}{
		{"the next day", start.AddDate(0, 0, 1), false},
		{"31 days before expiry", expires.Add(-31 * 24 * time.Hour), false},
		{"29 days before expiry", expires.Add(-29 * 24 * time.Hour), true},
		{"after expiry", expires.AddDate(0, 1, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tls")
			certFile, _, made, err := Ensure(dir, []string{"127.0.0.1", "localhost"}, start)
			if err != nil || !made {
				t.Fatalf("first run: made %t, %v", made, err)
			}
			first, err := os.ReadFile(certFile)
			if err != nil {
				t.Fatal(err)
			}
			_, _, made, err = Ensure(dir, []string{"127.0.0.1", "localhost"}, tt.later)
			if err != nil || made != tt.made {
				t.Fatalf("made %t, %v; want made %t", made, err, tt.made)
			}
			notAfter, err := expiry(certFile)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := os.ReadFile(certFile); bytes.Equal(again, first) == tt.made {
				t.Errorf("the certificate changed: %t, want %t", !bytes.Equal(again, first), tt.made)
			}
			if !notAfter.After(tt.later.Add(renewBefore)) {
				t.Errorf("the certificate in use expires %s, too soon after %s", notAfter, tt.later)
			}
		})
	}
}

func TestEnsureRefusesAFileThatIsNotACertificate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Ensure(dir, nil, time.Now()); err == nil {
		t.Error("Ensure accepted a cert.pem that holds no certificate")
	}
}
