package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/certfile"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// Sealer seals secrets at rest with a key kept outside the database
// (SPEC CERT-4); context binds a sealed value to where it is stored.
type Sealer interface {
	Seal(plain, context []byte) []byte
	Open(sealed, context []byte) ([]byte, error)
}

// sealContext binds a sealed file or password to its user and type, so
// that a value copied to another row does not open there.
func sealContext(c *portico.Certificate, part string) []byte {
	return fmt.Appendf(nil, "certificate:%d:%s:%s", c.UserID, c.Type, part)
}

// CertificateOption is a type of certificate the user may upload, with
// the name the admin gave it.
type CertificateOption struct {
	Type portico.CertificateType
	Name string
}

// CertificateOptions lists the types of certificate the signed-in user may
// upload; EFORBIDDEN without the role or without any type configured.
func (s *Service) CertificateOptions(ctx context.Context) ([]CertificateOption, error) {
	_, v, err := s.certificateUser(ctx)
	if err != nil {
		return nil, err
	}
	var out []CertificateOption
	for _, t := range v.CertificateTypesOffered() {
		out = append(out, CertificateOption{Type: t, Name: v.CertificateName(t)})
	}
	return out, nil
}

// certificateUser is the signed-in user when My Certificates is theirs to
// use: the role, and at least one type configured (SPEC CERT-1).
func (s *Service) certificateUser(ctx context.Context) (*portico.User, portico.SettingValues, error) {
	u, v, err := s.userWhoMay(ctx, func(c portico.Capabilities) bool { return c.Certificates }, "manage certificates here")
	if err != nil {
		return nil, nil, err
	}
	if s.sealer == nil {
		return nil, nil, fmt.Errorf("service: no sealer for certificates")
	}
	return u, v, nil
}

// MyCertificates lists the signed-in user's certificates.
func (s *Service) MyCertificates(ctx context.Context) ([]*portico.Certificate, error) {
	u, _, err := s.certificateUser(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.ListCertificates(ctx, u.ID)
}

// Push is a configuration sent to one of the user's devices.
type Push struct {
	Device  *portico.Device
	Command *portico.Command
}

// PutCertificate stores an uploaded PKCS#12 file as the user's certificate
// of its type, replacing the one there was (Add and Edit, SPEC CERT-1), and
// pushes again every configuration that uses that type to each of the
// user's active devices (SPEC CERT-3). A file that is refused stores
// nothing (SPEC CERT-4).
func (s *Service) PutCertificate(ctx context.Context, typ portico.CertificateType, file []byte, password string) (*portico.Certificate, []Push, error) {
	action := portico.AuditEntry{Action: "certificate.put", Target: string(typ)}
	u, v, err := s.certificateUser(ctx)
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, nil, err
	}
	if typ, err = portico.ParseCertificateType(string(typ)); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, nil, err
	}
	if v.CertificateName(typ) == "" {
		err := portico.Errorf(portico.EINVALID, "Your company takes no %s certificates.", typ)
		s.auditRefusal(ctx, action, err)
		return nil, nil, err
	}
	now := s.clock.Now()
	id, err := s.parse(ctx, file, password, now)
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, nil, err
	}
	cert := describe(u, typ, id, now)
	sealed, err := s.seal(cert, id)
	if err != nil {
		return nil, nil, err
	}
	var pushes []Push
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.PutCertificate(ctx, cert, sealed); err != nil {
			return err
		}
		if pushes, err = s.pushConfigurations(ctx, st, u, typ, v); err != nil {
			return err
		}
		action.Detail = fmt.Sprintf("%s, issued by %s, until %s; pushed to %d devices", cert.Subject, cert.Issuer, cert.NotAfter.Format("2006-01-02"), len(pushes))
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pushes {
		s.wakeDevice(ctx, p.Device.ID)
	}
	return cert, pushes, nil
}

// describe is what the portal lists of a certificate.
// ReplaceCertificate stores a new file for one of the user's certificates
// (Edit, SPEC CERT-2) and pushes again what uses it.
func (s *Service) ReplaceCertificate(ctx context.Context, id int64, file []byte, password string) (*portico.Certificate, []Push, error) {
	_, c, err := s.myCertificate(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return s.PutCertificate(ctx, c.Type, file, password)
}

func describe(u *portico.User, typ portico.CertificateType, id *certfile.Identity, now time.Time) *portico.Certificate {
	return &portico.Certificate{
		UserID: u.ID, Type: typ, Subject: id.Subject(), Issuer: id.Issuer(), Email: id.Email(),
		NotAfter: id.NotAfter(), HasKey: id.Key != nil, UploadedAt: now,
	}
}

// seal re-encodes the identity under a new random password, which only
// the devices it is pushed to ever learn, and seals both.
func (s *Service) seal(c *portico.Certificate, id *certfile.Identity) (store.SealedFile, error) {
	password := secret.NewPassword()
	p12, err := certfile.Encode(id, password)
	if err != nil {
		return store.SealedFile{}, err
	}
	return store.SealedFile{
		PKCS12:   s.sealer.Seal(p12, sealContext(c, "pkcs12")),
		Password: s.sealer.Seal([]byte(password), sealContext(c, "password")),
	}, nil
}

// unseal opens a stored file.
func (s *Service) unseal(c *portico.Certificate, f store.SealedFile) ([]byte, string, error) {
	p12, err := s.sealer.Open(f.PKCS12, sealContext(c, "pkcs12"))
	if err != nil {
		return nil, "", err
	}
	password, err := s.sealer.Open(f.Password, sealContext(c, "password"))
	return p12, string(password), err
}

// Certificate returns one of the signed-in user's certificates.
func (s *Service) Certificate(ctx context.Context, id int64) (*portico.Certificate, error) {
	_, c, err := s.myCertificate(ctx, id)
	return c, err
}

// myCertificate returns one of the signed-in user's certificates; anyone
// else's is reported missing, like one that does not exist.
func (s *Service) myCertificate(ctx context.Context, id int64) (*portico.User, *portico.Certificate, error) {
	u, _, err := s.certificateUser(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.store.CertificateByID(ctx, id)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && c.UserID != u.ID) {
		return nil, nil, portico.Errorf(portico.ENOTFOUND, "There is no such certificate among yours.")
	}
	return u, c, err
}

// ClearPrivateKey stores the certificate again without its private key
// (SPEC CERT-2). Nothing is pushed (SPEC CERT-3): the next push carries the
// certificate alone.
func (s *Service) ClearPrivateKey(ctx context.Context, id int64) (*portico.Certificate, error) {
	_, c, err := s.myCertificate(ctx, id)
	if err != nil {
		return nil, err
	}
	// Read and written in one transaction: a file replaced meanwhile is
	// the one cleared, never put back.
	err = s.store.InTx(ctx, func(st store.Store) error {
		if c, err = st.CertificateByID(ctx, id); err != nil {
			return err
		}
		f, err := st.CertificateFile(ctx, id)
		if err != nil {
			return err
		}
		p12, password, err := s.unseal(c, f)
		if err != nil {
			return err
		}
		stored, err := certfile.Decode(p12, password)
		if err != nil {
			return err
		}
		stored.Key = nil
		sealed, err := s.seal(c, stored)
		if err != nil {
			return err
		}
		c.HasKey = false
		if err := st.PutCertificate(ctx, c, sealed); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "certificate.clear_key", Target: string(c.Type), Detail: c.Subject})
	})
	return c, err
}

// DeleteCertificate deletes one of the user's certificates; nothing is
// pushed (SPEC CERT-3).
func (s *Service) DeleteCertificate(ctx context.Context, id int64) error {
	_, c, err := s.myCertificate(ctx, id)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(st store.Store) error {
		if err := st.DeleteCertificate(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "certificate.delete", Target: string(c.Type), Detail: c.Subject})
	})
}

// configurationPayload is what a configure command keeps in the database:
// which configuration, not the secrets it carries. Those are read when the
// device collects the command, so that a certificate cleared or replaced
// in the meantime goes out as it is then.
type configurationPayload struct {
	Configuration string `json:"configuration"`
}

// pushConfigurations queues, for each of the user's active devices, every
// configuration that uses a certificate of the type: today the email
// account configuration.
func (s *Service) pushConfigurations(ctx context.Context, st store.Store, u *portico.User, typ portico.CertificateType, v portico.SettingValues) ([]Push, error) {
	if !v.EmailUses(typ) {
		return nil, nil
	}
	devices, err := st.ListDevices(ctx, store.DeviceFilter{UserID: u.ID})
	if err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(configurationPayload{Configuration: "email"})
	var pushes []Push
	for _, d := range devices {
		if d.Status != portico.StatusActive {
			continue
		}
		cmd := &portico.Command{DeviceID: d.ID, Kind: portico.CommandConfigure, Status: portico.CommandQueued, Payload: payload,
			CreatedBy: portico.ActorFromContext(ctx).Name(), CreatedAt: s.clock.Now()}
		if err := s.queueConfiguration(ctx, st, d, cmd); err != nil {
			return nil, err
		}
		pushes = append(pushes, Push{Device: d, Command: cmd})
	}
	return pushes, nil
}

// queueConfiguration queues a configure command; an Apple device gets it
// as InstallProfile, through the queue of Apple commands.
func (s *Service) queueConfiguration(ctx context.Context, st store.Store, d *portico.Device, cmd *portico.Command) error {
	if d.Platform.Apple() {
		if _, err := st.AppleEnrollment(ctx, d.ID); err == nil {
			return s.queueAppleCommand(ctx, st, d, cmd)
		} else if portico.ErrorCode(err) != portico.ENOTFOUND {
			return err
		}
	}
	return st.QueueCommand(ctx, cmd)
}

// MyPushes lists the configurations recently pushed to the user's devices,
// newest first, with their states.
func (s *Service) MyPushes(ctx context.Context) ([]Push, error) {
	u, _, err := s.certificateUser(ctx)
	if err != nil {
		return nil, err
	}
	devices, err := s.store.ListDevices(ctx, store.DeviceFilter{UserID: u.ID})
	if err != nil {
		return nil, err
	}
	var pushes []Push
	for _, d := range devices {
		cmds, err := s.store.ListCommands(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		for _, c := range cmds {
			if c.Kind == portico.CommandConfigure {
				pushes = append(pushes, Push{Device: d, Command: c})
				break // the newest is the one that matters
			}
		}
	}
	slices.SortFunc(pushes, func(a, b Push) int { return b.Command.CreatedAt.Compare(a.Command.CreatedAt) })
	return pushes, nil
}

// EmailConfiguration is what a device receives to set up the user's mail
// account with S/MIME (SPEC CERT-3).
type EmailConfiguration struct {
	Type            string     `json:"type"` // "email"
	Server          string     `json:"server"`
	Username        string     `json:"username"`
	Email           string     `json:"email"`
	SMIMESigning    bool       `json:"smime_signing"`
	SMIMEEncryption bool       `json:"smime_encryption"`
	Identities      []Identity `json:"identities"`
}

// Identity is one S/MIME certificate in a configuration, as a PKCS#12
// file with the password that opens it.
type Identity struct {
	Purpose       portico.CertificateType `json:"purpose"`
	PKCS12        string                  `json:"pkcs12"` // base64
	Password      string                  `json:"password"`
	HasPrivateKey bool                    `json:"has_private_key"`
}

// expandConfigurations fills the configure commands a device collects with
// the configuration and the identities it carries, as they are now.
func (s *Service) expandConfigurations(ctx context.Context, d *portico.Device, cmds []*portico.Command) error {
	for _, c := range cmds {
		if c.Kind != portico.CommandConfigure {
			continue
		}
		conf, err := s.emailConfiguration(ctx, d.UserID)
		if err != nil {
			return err
		}
		if c.Payload, err = json.Marshal(conf); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) emailConfiguration(ctx context.Context, userID int64) (*EmailConfiguration, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	conf := &EmailConfiguration{
		Type: "email", Server: v.Get("email.server"), Email: u.Email,
		Username:     strings.NewReplacer("{username}", u.Username, "{email}", u.Email).Replace(v.Get("email.username")),
		SMIMESigning: v.EmailUses(portico.CertificateSigning), SMIMEEncryption: v.EmailUses(portico.CertificateEncryption),
		Identities: []Identity{},
	}
	certs, err := s.store.ListCertificates(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		// A type the admin no longer offers is not pushed any more.
		if !v.EmailUses(c.Type) || v.CertificateName(c.Type) == "" || s.sealer == nil {
			continue
		}
		f, err := s.store.CertificateFile(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		p12, password, err := s.unseal(c, f)
		if err != nil {
			return nil, err
		}
		conf.Identities = append(conf.Identities, Identity{
			Purpose: c.Type, PKCS12: base64.StdEncoding.EncodeToString(p12), Password: password, HasPrivateKey: c.HasKey,
		})
	}
	return conf, nil
}

// keyCheck is sealed into the settings with the first key an installation
// uses, so that an instance started with another key refuses to start
// rather than fail on every certificate.
const keyCheck = "internal.sealing_key_check"

// CheckSealingKey makes sure the sealer's key is the one the database's
// secrets were sealed with.
func (s *Service) CheckSealingKey(ctx context.Context) error {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return err
	}
	if stored, ok := v[keyCheck]; ok {
		sealed, err := base64.StdEncoding.DecodeString(stored)
		if err == nil {
			_, err = s.sealer.Open(sealed, []byte(keyCheck))
		}
		if err != nil {
			return fmt.Errorf("this instance's secret key is not the one the database's secrets were sealed with: give every instance the same key (%s, or the data directory's keys/secret.key)", secret.KeyEnv)
		}
		return nil
	}
	return s.store.PutSetting(ctx, keyCheck, base64.StdEncoding.EncodeToString(s.sealer.Seal([]byte("portico"), []byte(keyCheck))))
}

// parse reads an upload, one at a time: a PKCS#12 file names its own key
// derivation costs, so a crafted one can keep a core busy for long, and
// must not take more than one.
func (s *Service) parse(ctx context.Context, file []byte, password string, now time.Time) (*certfile.Identity, error) {
	select {
	case s.parsing <- struct{}{}:
		defer func() { <-s.parsing }()
	case <-ctx.Done():
		return nil, portico.Errorf(portico.ETHROTTLED, "Another certificate is being read; try again in a moment.")
	}
	return certfile.Parse(file, password, now)
}
