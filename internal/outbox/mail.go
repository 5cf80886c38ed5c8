package outbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	netmail "net/mail"

	"github.com/wneessen/go-mail"

	"github.com/portico-mdm/portico"
)

// sendMail sends m as a plain-text mail through the SMTP server of the
// settings.
func sendMail(ctx context.Context, v portico.SettingValues, rootCAs *x509.CertPool, m *portico.Message) error {
	from := v.Get("mail.from")
	if from == "" {
		return errors.New("no sender address is set (Settings › Mail)")
	}
	msg := mail.NewMsg()
	// The name is encoded by net/mail, which quotes and escapes it as
	// RFC 5322 wants: formatting it into a string to be parsed again
	// breaks on a backslash or a quote in the portal's name.
	msg.FromMailAddress(&netmail.Address{Name: v.MailFromName(), Address: from})
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("the recipient's address: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Text)

	host := v.Get("mail.host")
	opts := []mail.Option{
		mail.WithPort(v.Int("mail.port")),
		mail.WithTimeout(sendTimeout),
		mail.WithTLSConfig(&tls.Config{ServerName: host, RootCAs: rootCAs, MinVersion: tls.VersionTLS12}),
	}
	switch v.Get("mail.security") {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default: // starttls: refuse a server that cannot encrypt rather than send in clear
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if user := v.Get("mail.username"); user != "" {
		// PLAIN and LOGIN are what mail services offer. go-mail sends them
		// only over an encrypted connection or to this machine, so a
		// password never crosses the network in clear.
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin),
			mail.WithUsername(user), mail.WithPassword(v.Get("mail.password")))
	}
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		return err
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if err != nil && msg.IsDelivered() {
		// The server took the message (250 after DATA) and only closing the
		// session failed: trying again would send it twice.
		return nil
	}
	return err
}
