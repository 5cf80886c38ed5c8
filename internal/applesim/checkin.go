package applesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/smallstep/pkcs7"
	"howett.net/plist"

	"github.com/portico-mdm/portico"
)

// The media types of Apple's check-in and command protocols.
const (
	checkinType = "application/x-apple-aspen-mdm-checkin"
	commandType = "application/x-apple-aspen-mdm"
)

// authenticate is the first check-in message; the keys are those real
// devices send (captures under devices/: Authenticate.*).
type authenticate struct {
	MessageType  string
	Topic        string
	UDID         string
	OSVersion    string
	BuildVersion string
	ProductName  string
	SerialNumber string
	IMEI         string `plist:",omitempty"`
	MEID         string `plist:",omitempty"`
	// macOS only.
	DeviceName string `plist:",omitempty"`
	Model      string `plist:",omitempty"`
	ModelName  string `plist:",omitempty"`
}

// tokenUpdate tells the server how to push to the device.
type tokenUpdate struct {
	MessageType           string
	Topic                 string
	UDID                  string
	Token                 []byte
	PushMagic             string
	UnlockToken           []byte `plist:",omitempty"`
	AwaitingConfiguration bool
}

// checkOut tells the server the enrollment profile was removed.
type checkOut struct {
	MessageType string
	Topic       string
	UDID        string
}

func (d *Device) authenticateMessage() authenticate {
	m := d.model
	a := authenticate{
		MessageType: "Authenticate", Topic: d.mdm.Topic, UDID: m.UDID,
		OSVersion: m.OSVersion, BuildVersion: m.BuildVersion, ProductName: m.ProductName, SerialNumber: m.SerialNumber,
	}
	if m.SIM != nil {
		a.IMEI, a.MEID = groupedIMEI(m.SIM.IMEI), m.SIM.MEID
	}
	if m.Platform == portico.PlatformMacOS {
		a.DeviceName, a.Model, a.ModelName = m.DeviceName, m.Model, m.ModelName
	}
	return a
}

func (d *Device) tokenUpdateMessage() tokenUpdate {
	return tokenUpdate{
		MessageType: "TokenUpdate", Topic: d.mdm.Topic, UDID: d.model.UDID,
		Token: d.pushToken, PushMagic: d.pushMagic, UnlockToken: d.unlockToken,
	}
}

// checkin sends a check-in message (Authenticate, TokenUpdate, CheckOut),
// which the server must accept with 200.
func (d *Device) checkin(ctx context.Context, messageType string, msg any) error {
	body, err := plist.Marshal(msg, plist.XMLFormat)
	if err != nil {
		return err
	}
	u := d.mdm.CheckInURL
	if u == "" {
		u = d.mdm.ServerURL
	}
	status, _, err := d.put(ctx, u, checkinType, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &StatusError{Status: status, Request: messageType}
	}
	return nil
}

// StatusError is a server's answer other than 200 to an MDM request.
type StatusError struct {
	Status  int
	Request string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("the server answered %d %s to %s", e.Status, http.StatusText(e.Status), e.Request)
}

// unauthorized is a 401, which makes a device drop its enrollment.
func unauthorized(err error) bool {
	var s *StatusError
	return errors.As(err, &s) && s.Status == http.StatusUnauthorized
}

// put sends an MDM request as a device does: PUT with the plist body,
// over TLS with the identity as client certificate, and with the identity's
// detached CMS signature of the body in Mdm-Signature when the MDM payload
// asks for SignMessage.
func (d *Device) put(ctx context.Context, u, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", d.userAgent())
	if d.mdm.SignMessage {
		sig, err := d.signature(body)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Mdm-Signature", sig)
	}
	res, err := d.mdmClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, reply, nil
}

// signature is the Mdm-Signature of a body: base64 of a detached CMS
// SignedData by the device identity, the certificate inside.
func (d *Device) signature(body []byte) (string, error) {
	sd, err := pkcs7.NewSignedData(body)
	if err != nil {
		return "", err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(d.cert, d.key, pkcs7.SignerInfoConfig{}); err != nil {
		return "", fmt.Errorf("signing the message: %w", err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

func (d *Device) userAgent() string {
	if d.model.Platform == portico.PlatformMacOS {
		return "MDM-OSX/1.0 mdmclient/1434.140.6"
	}
	return "MDM/1.0"
}

// newPushIdentity is what APNs gives a device: a 32-byte token and a
// PushMagic; an iPhone or iPad also makes an UnlockToken (an escrow keybag,
// here random bytes of a real one's size).
func (d *Device) newPushIdentity() error {
	d.pushToken = make([]byte, 32)
	if _, err := rand.Read(d.pushToken); err != nil {
		return err
	}
	d.pushMagic = newUUID()
	if d.model.Platform != portico.PlatformMacOS {
		d.unlockToken = make([]byte, 1480)
		if _, err := rand.Read(d.unlockToken); err != nil {
			return err
		}
	}
	return nil
}
