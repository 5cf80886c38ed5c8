package applemdm

import "howett.net/plist"

// MailIdentifier is the PayloadIdentifier of the email account profile:
// installing it again replaces the one before.
const MailIdentifier = "org.portico-mdm.mail"

// MailAccount is an IMAP account with its S/MIME identities, as the
// certificates a user uploaded make it (SPEC CERT-3).
type MailAccount struct {
	Server, Username, Email string
	// Signing and Encryption are PKCS#12 identities; nil for none.
	Signing, Encryption *PKCS12
	SMIMESigning        bool
	SMIMEEncryption     bool
}

// PKCS12 is a PKCS#12 file and the password that opens it.
type PKCS12 struct {
	File     []byte
	Password string
}

// Profile returns the account as a configuration profile for
// InstallProfile: a com.apple.security.pkcs12 payload per identity, and a
// com.apple.mail.managed payload that names them.
func (m MailAccount) Profile() ([]byte, error) {
	mail := newPayload("com.apple.mail.managed", MailIdentifier+".account", m.Email)
	mail["EmailAccountType"] = "EmailTypeIMAP"
	mail["EmailAccountDescription"] = m.Email
	mail["EmailAddress"] = m.Email
	mail["IncomingMailServerHostName"] = m.Server
	mail["IncomingMailServerUsername"] = m.Username
	mail["IncomingMailServerAuthentication"] = "EmailAuthPassword"
	mail["IncomingMailServerUseSSL"] = true
	mail["OutgoingMailServerHostName"] = m.Server
	mail["OutgoingMailServerUsername"] = m.Username
	mail["OutgoingMailServerAuthentication"] = "EmailAuthPassword"
	mail["OutgoingMailServerUseSSL"] = true
	mail["OutgoingPasswordSameAsIncomingPassword"] = true
	content := []payload{}
	identity := func(p *PKCS12, name string) string {
		pl := newPayload("com.apple.security.pkcs12", MailIdentifier+"."+name, name)
		pl["PayloadContent"] = p.File
		pl["Password"] = p.Password
		content = append(content, pl)
		return pl["PayloadUUID"].(string)
	}
	if m.Signing != nil && m.SMIMESigning {
		mail["SMIMESigningEnabled"] = true
		mail["SMIMESigningCertificateUUID"] = identity(m.Signing, "signing")
	}
	if m.Encryption != nil && m.SMIMEEncryption {
		mail["SMIMEEncryptionEnabled"] = true
		mail["SMIMEEncryptionCertificateUUID"] = identity(m.Encryption, "encryption")
	}
	content = append(content, mail)
	top := payload{
		"PayloadType": "Configuration", "PayloadIdentifier": MailIdentifier, "PayloadUUID": NewUUID(),
		"PayloadVersion": 1, "PayloadDisplayName": "Email: " + m.Email, "PayloadContent": content,
	}
	return plist.MarshalIndent(top, plist.XMLFormat, "\t")
}
