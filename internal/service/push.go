package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns"
	"github.com/portico-mdm/portico/internal/certfile"
	"github.com/portico-mdm/portico/internal/store"
)

// uidOID is the subject attribute (userId) that carries a push
// certificate's topic.
var uidOID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// pushKeyContext binds the sealed private key to its certificate, so that
// a key copied beside another certificate does not open.
func pushKeyContext(fingerprint string) []byte {
	return []byte("push-certificate:" + fingerprint + ":key")
}

// PushCertificateUpload is what an admin uploads: a PKCS#12 file and its
// password, or PEM text with the certificate and its key, in one file or
// with the key apart.
type PushCertificateUpload struct {
	File     []byte
	Key      []byte // PEM, when not in File
	Password string // PKCS#12 only
	// Replace confirms that the certificate in use is to be replaced.
	Replace bool
}

// PushCertificate returns the MDM push certificate (admins only);
// ENOTFOUND when none was uploaded.
func (s *Service) PushCertificate(ctx context.Context) (*portico.PushCertificate, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	c, _, err := s.store.PushCertificate(ctx)
	return c, err
}

// PushTopic is the topic of the MDM push certificate, which the enrollment
// profile names; ENOTFOUND when none was uploaded, since a device enrolled
// without it could never be reached.
func (s *Service) PushTopic(ctx context.Context) (string, error) {
	c, _, err := s.store.PushCertificate(ctx)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return "", portico.Errorf(portico.ENOTFOUND, "Apple devices cannot enroll yet: an administrator must upload the MDM push certificate at /admin/apple/push.")
	}
	if err != nil {
		return "", err
	}
	return c.Topic, nil
}

// PushCertificateWarning is what admin pages say of the push certificate
// when it expired or expires within 30 days, or "" when all is well (or
// there is none, which the push page itself says).
func (s *Service) PushCertificateWarning(ctx context.Context) (string, error) {
	if err := requireAdmin(ctx); err != nil {
		return "", err
	}
	c, _, err := s.store.PushCertificate(ctx)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	now, day := s.clock.Now(), c.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case c.Expired(now):
		return fmt.Sprintf("The MDM push certificate expired on %s: Apple devices can no longer be reached. Renew it with the same Apple ID and upload it.", day), nil
	case c.ExpiresSoon(now):
		return fmt.Sprintf("The MDM push certificate expires on %s. Renew it with the same Apple ID and upload it before then, or Apple devices can no longer be reached.", day), nil
	}
	return "", nil
}

// PutPushCertificate checks and stores the MDM push certificate (admins
// only): its key must match, it must carry a com.apple.mgmt. topic and be
// valid now. Replacing one needs Replace, and keeps its topic: devices
// enrolled under another topic could not be reached.
func (s *Service) PutPushCertificate(ctx context.Context, up PushCertificateUpload) (*portico.PushCertificate, error) {
	action := portico.AuditEntry{Action: "push-certificate.put"}
	c, sealedKey, err := s.checkPushCertificate(ctx, up)
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	action.Target = c.Topic
	err = s.store.InTx(ctx, func(st store.Store) error {
		old, _, err := st.PushCertificate(ctx)
		switch {
		case portico.ErrorCode(err) == portico.ENOTFOUND:
		case err != nil:
			return err
		case !up.Replace:
			return portico.Errorf(portico.ECONFLICT, "A push certificate is in use; confirm that the new one replaces it.")
		case old.Topic != c.Topic:
			return portico.Errorf(portico.ECONFLICT, "The new certificate is for topic %s, the one in use for %s: devices enrolled under the old topic could no longer be reached. Renew the certificate with the Apple ID that made it, or delete the old one first.", c.Topic, old.Topic)
		}
		if err := st.PutPushCertificate(ctx, c, sealedKey); err != nil {
			return err
		}
		action.Detail = fmt.Sprintf("%s, until %s", c.Subject, c.NotAfter.UTC().Format(time.DateOnly))
		return s.audit(ctx, st, action)
	})
	if err != nil {
		if portico.ErrorCode(err) != portico.EINTERNAL {
			s.auditRefusal(ctx, action, err)
		}
		return nil, err
	}
	return c, nil
}

// checkPushCertificate reads an upload into what is stored.
func (s *Service) checkPushCertificate(ctx context.Context, up PushCertificateUpload) (*portico.PushCertificate, []byte, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, nil, err
	}
	if s.sealer == nil {
		return nil, nil, fmt.Errorf("service: no sealer for the push certificate")
	}
	if len(bytes.TrimSpace(up.File)) == 0 {
		return nil, nil, portico.Errorf(portico.EINVALID, "Choose the push certificate file: a .p12, or a .pem with the certificate and its key.")
	}
	now := s.clock.Now()
	var id *certfile.Identity
	var err error
	switch {
	case bytes.Contains(up.File, []byte("-----BEGIN ")):
		id, err = certfile.ParsePEM(append(append(bytes.Clone(up.File), '\n'), up.Key...), now)
	case len(up.Key) > 0:
		err = portico.Errorf(portico.EINVALID, "A private key apart goes with a certificate in PEM form; a .p12 file holds its own key.")
	default:
		id, err = s.parse(ctx, up.File, up.Password, now)
	}
	if err != nil {
		return nil, nil, err
	}
	topic := pushTopic(id.Certificate)
	switch {
	case topic == "":
		return nil, nil, portico.Errorf(portico.EINVALID, "This is not an MDM push certificate: its subject has no UID naming a topic. Upload the certificate Apple's push certificates portal issued.")
	case !portico.ValidPushTopic(topic):
		return nil, nil, portico.Errorf(portico.EINVALID, "This is not an MDM push certificate: its topic %q does not start with %s.", topic, portico.PushTopicPrefix)
	}
	key, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return nil, nil, portico.Errorf(portico.EINVALID, "The certificate's private key is of a kind Portico cannot use.")
	}
	sum := sha256.Sum256(id.Certificate.Raw)
	var chain bytes.Buffer
	for _, c := range append([]*x509.Certificate{id.Certificate}, id.Chain...) {
		pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	c := &portico.PushCertificate{
		Topic: topic, Subject: id.Subject(), Issuer: id.Issuer(), Serial: id.Certificate.SerialNumber.Text(16),
		NotAfter: id.NotAfter(), Fingerprint: hex.EncodeToString(sum[:]), UploadedAt: now,
		UploadedBy: portico.ActorFromContext(ctx).Name(), Chain: chain.Bytes(),
	}
	return c, s.sealer.Seal(key, pushKeyContext(c.Fingerprint)), nil
}

func pushTopic(c *x509.Certificate) string {
	for _, a := range c.Subject.Names {
		if a.Type.Equal(uidOID) {
			if s, ok := a.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// DeletePushCertificate removes the MDM push certificate (admins only),
// with confirm "delete": without it no Apple device can be reached, so
// none can be managed, until a certificate of the same topic is uploaded.
func (s *Service) DeletePushCertificate(ctx context.Context, confirm string) error {
	action := portico.AuditEntry{Action: "push-certificate.delete"}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return err
	}
	if confirm != "delete" {
		err := portico.Errorf(portico.EINVALID, "Confirm that the push certificate is to be deleted.")
		s.auditRefusal(ctx, action, err)
		return err
	}
	return s.store.InTx(ctx, func(st store.Store) error {
		c, _, err := st.PushCertificate(ctx)
		if err != nil {
			return err
		}
		if err := st.DeletePushCertificate(ctx); err != nil {
			return err
		}
		action.Target, action.Detail = c.Topic, c.Subject
		return s.audit(ctx, st, action)
	})
}

// queuePush queues a push that wakes the device, in the caller's
// transaction st, so that it goes once what the caller wrote (a command,
// say) is committed. A push already waiting for the device does the job:
// no second one is queued.
func (s *Service) queuePush(ctx context.Context, st store.Store, p portico.Push) error {
	_, err := st.EnqueuePush(ctx, p.Message(s.clock.Now()))
	return err
}

// PushReady reports whether pushes can be sent: a push certificate was
// uploaded. Without one they wait in the outbox.
func (s *Service) PushReady(ctx context.Context) (bool, error) {
	_, _, err := s.store.PushCertificate(ctx)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return false, nil
	}
	return err == nil, err
}

// SendPush sends a push from the outbox with the current push
// certificate. Apple's refusals come back as *apns.Error, whose Permanent
// tells the outbox to give up at once.
func (s *Service) SendPush(ctx context.Context, m *portico.Message) error {
	p, err := portico.PushOf(m)
	if err != nil {
		return err
	}
	c, err := s.pushClient(ctx)
	if err != nil {
		return err
	}
	if c.Topic() != p.Topic {
		// The device enrolled under a certificate that was since deleted
		// and replaced by one of another topic: Apple would refuse it.
		return &apns.Error{Status: 400, Reason: "DeviceTokenNotForTopic"}
	}
	return c.Push(ctx, p.Token, p.PushMagic)
}

// pushClient is the client of the current push certificate. It is kept
// while the certificate stays the same, so that pushes share its
// connection to Apple; a new certificate gets a new client.
func (s *Service) pushClient(ctx context.Context) (*apns.Client, error) {
	c, sealedKey, err := s.store.PushCertificate(ctx)
	if err != nil {
		return nil, err
	}
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	if s.push.client != nil && s.push.fingerprint == c.Fingerprint {
		return s.push.client, nil
	}
	if s.sealer == nil {
		return nil, fmt.Errorf("service: no sealer for the push certificate")
	}
	keyDER, err := s.sealer.Open(sealedKey, pushKeyContext(c.Fingerprint))
	if err != nil {
		return nil, fmt.Errorf("service: opening the push certificate's key: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("service: reading the push certificate's key: %w", err)
	}
	cert := tls.Certificate{PrivateKey: key}
	for rest := c.Chain; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		cert.Certificate = append(cert.Certificate, b.Bytes)
	}
	if s.push.client != nil {
		s.push.client.Close()
	}
	s.push.client = apns.New(apns.Config{Certificate: cert, Topic: c.Topic, BaseURL: s.push.baseURL, RootCAs: s.push.rootCAs})
	s.push.fingerprint = c.Fingerprint
	return s.push.client, nil
}

// PushTokenInvalid records that Apple refused a device's push token for
// good: the device removed its enrollment profile, or was erased. The
// token is forgotten, so that no more pushes are queued for it until the
// device sends a new one in a TokenUpdate.
func (s *Service) PushTokenInvalid(ctx context.Context, deviceID int64, reason string) error {
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true})
	return s.store.InTx(ctx, func(st store.Store) error {
		err := st.ClearApplePushToken(ctx, deviceID, s.clock.Now())
		if err != nil && portico.ErrorCode(err) != portico.ENOTFOUND {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{
			Action: "push.token-invalid", DeviceID: deviceID, Target: fmt.Sprint(deviceID),
			Result: portico.ResultFailed, Detail: strings.TrimSpace(reason),
		})
	})
}

// LastPush is the newest push in the outbox, which tells the admin whether
// Apple accepts the certificate (admins only); nil when none was queued.
func (s *Service) LastPush(ctx context.Context) (*portico.Message, error) {
	msgs, err := s.Messages(ctx, store.MessageFilter{Channel: portico.ChannelAPNs, Limit: 1})
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	return msgs[0], nil
}
