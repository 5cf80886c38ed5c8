package main

import (
	"bytes"
	"crypto/x509"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico/internal/selfsigned"
)

// TestAppleProfileSigner: without TLS of its own, serve signs enrollment
// profiles with the identity given for it, or says at start-up that they
// go unsigned.
func TestAppleProfileSigner(t *testing.T) {
	certFile, keyFile, _, err := selfsigned.Ensure(t.TempDir(), []string{"mdm.example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		flags  serveFlags
		signed bool
	}{
		{"a signing identity", serveFlags{profileSigningCert: certFile, profileSigningKey: keyFile}, true},
		{"none", serveFlags{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg, err := appleConfig(globals{data: t.TempDir()}, tt.flags, nil, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(logs.String(), "enrollment profiles will be unsigned")
			if (cfg.Signer != nil) != tt.signed || warned == tt.signed {
				t.Fatalf("signer %v, warned %v:\n%s", cfg.Signer != nil, warned, logs.String())
			}
			if tt.signed {
				leaf, err := x509.ParseCertificate(cfg.Signer.Certificate[0])
				if err != nil || leaf.DNSNames[0] != "mdm.example.com" || cfg.TrustRoot != nil {
					t.Errorf("signer %v %v, trust root %v", leaf, err, cfg.TrustRoot)
				}
			}
		})
	}
}
