package certfile_test

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/certfile"
	"software.sslmate.com/src/go-pkcs12"
)

const password = "correct horse"

var encoders = []struct {
	name string
	enc  *pkcs12.Encoder
}{
	{"legacy 3DES", pkcs12.Legacy},
	{"legacy RC2", pkcs12.LegacyRC2},
	{"modern AES", pkcs12.Modern},
	{"modern PBMAC1", pkcs12.Modern2026},
}

func TestParseAccepts(t *testing.T) {
	f := fixtures()
	ids := []struct {
		name string
		id   identity
	}{
		{"self-signed RSA", f.selfRSA},
		{"self-signed ECDSA", f.selfEC},
		{"CA-signed RSA", f.caRSA},
		{"CA-signed ECDSA", f.caEC},
	}
	for _, e := range encoders {
		for _, id := range ids {
			for _, withChain := range []bool{false, true} {
				if withChain && id.id.chain == nil {
					continue
				}
				name := e.name + "/" + id.name
				var chain []*x509.Certificate
				if withChain {
					name += " with chain"
					chain = id.id.chain
				}
				t.Run(name, func(t *testing.T) {
					data := must(e.enc.Encode(id.id.key, id.id.cert, chain, password))
					got, err := certfile.Parse(data, password, now)
					if err != nil {
						t.Fatal(err)
					}
					checkIdentity(t, got, id.id.cert, chain, true)
				})
			}
		}
	}
}

// TestParseFindsLeaf covers files that list the CA before the leaf.
func TestParseFindsLeaf(t *testing.T) {
	f := fixtures()
	// The CA comes first in the file, the key's certificate second.
	data := must(pkcs12.Modern.Encode(f.caEC.key, f.ca.cert, []*x509.Certificate{f.caEC.cert}, password))
	got, err := certfile.Parse(data, password, now)
	if err != nil {
		t.Fatal(err)
	}
	checkIdentity(t, got, f.caEC.cert, []*x509.Certificate{f.ca.cert}, true)
}

func checkIdentity(t *testing.T, got *certfile.Identity, cert *x509.Certificate, chain []*x509.Certificate, wantKey bool) {
	t.Helper()
	if !got.Certificate.Equal(cert) {
		t.Errorf("certificate = %q, want %q", got.Certificate.Subject, cert.Subject)
	}
	if len(got.Chain) != len(chain) {
		t.Fatalf("chain has %d certificates, want %d", len(got.Chain), len(chain))
	}
	for i := range chain {
		if !got.Chain[i].Equal(chain[i]) {
			t.Errorf("chain[%d] = %q, want %q", i, got.Chain[i].Subject, chain[i].Subject)
		}
	}
	if !wantKey {
		if got.Key != nil {
			t.Errorf("key = %T, want none", got.Key)
		}
		return
	}
	pub := got.Key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool })
	if !pub.Equal(cert.PublicKey) {
		t.Error("key does not match the certificate")
	}
}

func TestParseRefusals(t *testing.T) {
	f := fixtures()
	modern := func(id identity) []byte {
		return must(pkcs12.Modern.Encode(id.key, id.cert, id.chain, password))
	}
	valid := modern(f.caRSA)
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.caRSA.cert.Raw})
	tests := []struct {
		name     string
		data     []byte
		password string
		now      time.Time
		want     string
	}{
		{"too large", make([]byte, certfile.MaxSize+1), password, now,
			"The file is larger than 64 KiB; a certificate file (.p12 or .pfx) is a few KiB."},
		{"empty", nil, password, now, "The file is not a PKCS#12 file (.p12 or .pfx)."},
		{"text", []byte("hello, world"), password, now, "The file is not a PKCS#12 file (.p12 or .pfx)."},
		{"PEM certificate", pemCert, password, now, "The file is not a PKCS#12 file (.p12 or .pfx)."},
		{"DER certificate", f.caRSA.cert.Raw, password, now, "The file is not a PKCS#12 file (.p12 or .pfx)."},
		{"truncated", valid[:len(valid)/2], password, now, "The file is not a PKCS#12 file (.p12 or .pfx)."},
		{"wrong password modern", valid, "wrong", now, "The password does not open this PKCS#12 file."},
		{"wrong password legacy", must(pkcs12.Legacy.Encode(f.caEC.key, f.caEC.cert, nil, password)), "wrong", now,
			"The password does not open this PKCS#12 file."},
		{"empty password", valid, "", now, "The password does not open this PKCS#12 file."},
		{"password outside UCS-2", valid, "pässwörd 🔑", now, "The password does not open this PKCS#12 file."},
		{"no key", must(pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{f.caRSA.cert}, password)), password, now,
			"The file holds no private key; export the certificate together with its private key."},
		{"RSA key of another certificate", must(pkcs12.Modern.Encode(f.otherRSA, f.caRSA.cert, nil, password)), password, now,
			"The private key in the file does not belong to its certificate."},
		{"ECDSA key of another certificate", must(pkcs12.Legacy.Encode(f.otherEC, f.caEC.cert, f.caEC.chain, password)), password, now,
			"The private key in the file does not belong to its certificate."},
		{"ECDSA key for an RSA certificate", must(pkcs12.Modern.Encode(f.otherEC, f.caRSA.cert, nil, password)), password, now,
			"The private key in the file does not belong to its certificate."},
		{"expired", modern(f.expired), password, now, "The certificate expired on 2025-03-14."},
		{"expired since upload time", valid, password, notAfter.Add(time.Second), "The certificate expired on 2027-01-31."},
		{"not valid yet", modern(f.notYet), password, now, "The certificate is not valid until 2026-09-30."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := certfile.Parse(tt.data, tt.password, tt.now)
			if got != nil {
				t.Fatalf("Parse returned an identity, want refusal %q", tt.want)
			}
			checkRefusal(t, err, tt.want)
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func checkRefusal(t *testing.T, err error, want string) {
	t.Helper()
	var e *portico.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want a *portico.Error", err, err)
	}
	if e.Code != portico.EINVALID {
		t.Errorf("code = %q, want %q", e.Code, portico.EINVALID)
	}
	if e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}
}

func TestRoundTrip(t *testing.T) {
	f := fixtures()
	for _, id := range []identity{f.selfRSA, f.caEC, f.caRSA} {
		t.Run(id.cert.Subject.CommonName, func(t *testing.T) {
			upload := must(pkcs12.Legacy.Encode(id.key, id.cert, id.chain, "upload password"))
			parsed := must(certfile.Parse(upload, "upload password", now))

			// Re-encoded with the password Portico chooses, the file reads
			// back whole and passes the upload checks again.
			stored := must(certfile.Encode(parsed, "stored password"))
			again := must(certfile.Parse(stored, "stored password", now))
			checkIdentity(t, again, id.cert, id.chain, true)
			decoded := must(certfile.Decode(stored, "stored password"))
			checkIdentity(t, decoded, id.cert, id.chain, true)

			// Clear private key: certificates only, and no longer an upload.
			parsed.Key = nil
			cleared := must(certfile.Encode(parsed, "stored password"))
			decoded = must(certfile.Decode(cleared, "stored password"))
			checkIdentity(t, decoded, id.cert, id.chain, false)
			_, err := certfile.Parse(cleared, "stored password", now)
			checkRefusal(t, err, "The file holds no private key; export the certificate together with its private key.")

			if _, err := certfile.Decode(cleared, "wrong"); err == nil {
				t.Error("Decode with a wrong password succeeded")
			}
		})
	}
}

func TestDecodeRefusesJunk(t *testing.T) {
	if _, err := certfile.Decode([]byte("junk"), password); err == nil {
		t.Error("Decode of junk succeeded")
	}
}

func TestNames(t *testing.T) {
	f := fixtures()
	tests := []struct {
		name                  string
		id                    identity
		subject, issuer, mail string
	}{
		{"self-signed with CN", f.selfEC, "Self EC", "Self EC", "alice@example.com"},
		{"CA-signed", f.caRSA, "Alice RSA", "Portico Test CA", "alice@example.com"},
		{"no CN, email in subject", f.emailDN, "emailAddress=bob@example.com, O=Example",
			"emailAddress=bob@example.com, O=Example", "bob@example.com"},
		{"no email", f.ca, "Portico Test CA", "Portico Test CA", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := &certfile.Identity{Certificate: tt.id.cert}
			if got := id.Subject(); got != tt.subject {
				t.Errorf("Subject() = %q, want %q", got, tt.subject)
			}
			if got := id.Issuer(); got != tt.issuer {
				t.Errorf("Issuer() = %q, want %q", got, tt.issuer)
			}
			if got := id.Email(); got != tt.mail {
				t.Errorf("Email() = %q, want %q", got, tt.mail)
			}
			if got := id.NotAfter(); !got.Equal(tt.id.cert.NotAfter) {
				t.Errorf("NotAfter() = %v, want %v", got, tt.id.cert.NotAfter)
			}
		})
	}
}

// TestOpenSSL parses files the way users make them. OpenSSL 3 writes AES
// and PBKDF2 by default; -legacy and the explicit 3DES options give what
// older tools and OpenSSL 1.x write.
func TestOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found")
	}
	dir := t.TempDir()
	run := func(t *testing.T, args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	read := func(t *testing.T, name string) []byte {
		t.Helper()
		return must(os.ReadFile(filepath.Join(dir, name)))
	}
	// Self-signed RSA and ECDSA identities, and an ECDSA one signed by a CA.
	run(t, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out", "rsa.pem",
		"-days", "30", "-subj", "/CN=Alice RSA/emailAddress=alice@example.com")
	run(t, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.key",
		"-out", "ec.pem", "-days", "30", "-subj", "/CN=Alice EC/emailAddress=alice@example.com")
	run(t, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
		"-out", "ca.pem", "-days", "60", "-subj", "/O=Example/CN=Example CA")
	run(t, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
		"-subj", "/CN=Alice Signed/emailAddress=alice@example.com")
	run(t, "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
		"-out", "leaf.pem", "-days", "30")

	pemCert := func(t *testing.T, name string) *x509.Certificate {
		block, _ := pem.Decode(read(t, name))
		return must(x509.ParseCertificate(block.Bytes))
	}
	options := []struct {
		name string
		args []string
	}{
		{"default", nil},
		{"legacy", []string{"-legacy"}},
		{"3DES SHA-1", []string{"-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"}},
	}
	identities := []struct {
		name, cert, key string
		chain           []string
	}{
		{"self-signed RSA", "rsa.pem", "rsa.key", nil},
		{"self-signed ECDSA", "ec.pem", "ec.key", nil},
		{"CA-signed RSA", "leaf.pem", "leaf.key", nil},
		{"CA-signed RSA with chain", "leaf.pem", "leaf.key", []string{"ca.pem"}},
	}
	for _, o := range options {
		for _, id := range identities {
			t.Run(o.name+"/"+id.name, func(t *testing.T) {
				out := strings.NewReplacer("/", "_", " ", "_").Replace(o.name + id.name + ".p12")
				args := []string{"pkcs12", "-export", "-in", id.cert, "-inkey", id.key, "-out", out, "-passout", "pass:" + password}
				var chain []*x509.Certificate
				for _, c := range id.chain {
					args = append(args, "-certfile", c)
					chain = append(chain, pemCert(t, c))
				}
				run(t, append(args, o.args...)...)
				got, err := certfile.Parse(read(t, out), password, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				checkIdentity(t, got, pemCert(t, id.cert), chain, true)
				if got.Email() != "alice@example.com" {
					t.Errorf("Email() = %q", got.Email())
				}
				_, err = certfile.Parse(read(t, out), "wrong", time.Now())
				checkRefusal(t, err, "The password does not open this PKCS#12 file.")
			})
		}
		t.Run(o.name+"/no key", func(t *testing.T) {
			out := strings.ReplaceAll(o.name, " ", "_") + "-nokeys.p12"
			run(t, append([]string{"pkcs12", "-export", "-nokeys", "-in", "rsa.pem", "-out", out, "-passout", "pass:" + password}, o.args...)...)
			_, err := certfile.Parse(read(t, out), password, time.Now())
			checkRefusal(t, err, "The file holds no private key; export the certificate together with its private key.")
		})
	}
}
