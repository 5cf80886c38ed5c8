package portico

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Setting is one system setting an admin can change: in the admin portal,
// through `portico settings`, or later through the admin API. Every key is
// declared here with its default and its check, so no door accepts a value
// another would refuse; the admin portal draws its forms from these
// declarations, one page per group.
type Setting struct {
	Key     string
	Group   string
	Label   string
	Help    string
	Kind    SettingKind
	Choices []string // for ChoiceSetting
	Default string
	// DefaultFrom names the setting whose value is this one's default, in
	// place of Default: the mail sender name follows the portal name.
	DefaultFrom string
	Check       func(string) error
}

// SettingKind says how a setting is typed in: it picks the form field.
type SettingKind string

const (
	TextSetting     SettingKind = "text"
	LongTextSetting SettingKind = "longtext"
	SwitchSetting   SettingKind = "switch" // "true" or "false"
	ChoiceSetting   SettingKind = "choice"
	DurationSetting SettingKind = "duration"
	NumberSetting   SettingKind = "number"
	SecretSetting   SettingKind = "secret" // never shown or logged once stored
)

// SettingGroup is a page of the admin portal's settings.
type SettingGroup struct {
	Key, Label, Help string
}

// SettingGroups lists the groups in the order the admin portal shows them.
var SettingGroups = []SettingGroup{
	{"helpdesk", "Helpdesk", "Every page of the portal shows this contact, the sign-in page included."},
	{"branding", "Branding", "How the portal presents itself: its name, logo and colour on every page, the sign-in page's text, and the name its mail and text messages go by."},
	{"security", "Sign-in and sessions", "How long sessions last and when repeated failed sign-ins lock an account."},
	{"access", "Access from networks", "Which networks may reach the user portal, the admin portal and the admin API. Empty lets every network in. Signing in, and setting up two-step sign-in, are open to the networks of either portal. Devices, Apple MDM and health checks are never restricted here."},
	{"passwords", "Passwords", "What a password must be when a user chooses one, or an admin chooses one for a user. Existing passwords keep working until they are changed."},
	{"registration", "Registration", "How employees register their devices from the portal, and the steps each platform shows."},
	{"actions", "Device actions", "How long actions wait for a device, the grace period of a wipe, and notices to users."},
	{"privacy", "Privacy", "What the company may see of a device, by who owns it."},
	{"certificates", "User certificates", "The S/MIME certificates users may upload in the portal, and the email account configuration that uses them. A type with no name cannot be uploaded; with neither, the portal shows no My Certificates tab."},
	{"derived", "Derived credentials", "The identity provider whose self-service module issues derived (PIV-D) credentials. With all three set, users who may request a registration PIN see Request derived credential for a pending iPhone, iPad or Android device. docs/derived-credentials.md is the provider's side of the exchange."},
	{"products", "Licensed products", "The additional products the company has a licence for. Resetting a secure apps passcode from the portal needs at least one of them."},
	{"secure_apps", "Secure apps policy", "The passcode that guards the secure apps on iPhones and Android devices, and whether users who forget it may recover it."},
	{"apple", "Apple devices", "How iPhones, iPads and Macs enroll in Apple device management: the enrollment profile they install, and what it adds."},
	{"mail", "Mail", "The SMTP server that sends invitations. Without one, mail stays in the outbox (Admin › Outbox) for you to read."},
	{"sms", "SMS", "The HTTP gateway that sends text messages. Without one, SMS stay in the outbox (Admin › Outbox) for you to read."},
}

// Settings lists every setting.
var Settings = []Setting{
	{Key: "helpdesk.name", Group: "helpdesk", Label: "Helpdesk name", Default: "IT Helpdesk", Check: text(100)},
	{Key: "helpdesk.phone", Group: "helpdesk", Label: "Helpdesk phone", Check: text(50)},
	{Key: "helpdesk.email", Group: "helpdesk", Label: "Helpdesk email", Check: optionalEmail},
	{Key: "helpdesk.hours", Group: "helpdesk", Label: "Helpdesk hours", Help: "For example: Monday to Friday, 8:00 to 18:00", Check: text(100)},
	{Key: "helpdesk.text", Group: "helpdesk", Label: "Helpdesk message", Kind: LongTextSetting, Check: text(1000)},
	{Key: "branding.name", Group: "branding", Label: "Portal name", Default: DefaultPortalName, Check: portalName,
		Help: "In the title and header of every page, on the sign-in page, and in mail and text messages."},
	{Key: "branding.color", Group: "branding", Label: "Primary colour", Default: DefaultBrandColor, Check: BrandColor,
		Help: "Of the header, buttons and links, as #rrggbb, for example #1f5fbf."},
	{Key: "branding.login_text", Group: "branding", Label: "Text on the sign-in page", Kind: LongTextSetting, Check: text(1000),
		Help: "Plain text shown above the sign-in form, for example who may sign in; empty shows none."},
	{Key: "session.idle_timeout", Group: "security", Label: "Sign out after this long idle", Kind: DurationSetting, Default: "30m", Check: duration(time.Minute, 24*time.Hour)},
	{Key: "session.lifetime", Group: "security", Label: "Longest session", Kind: DurationSetting, Default: "12h", Check: duration(5*time.Minute, 30*24*time.Hour)},
	{Key: "login.max_failures", Group: "security", Label: "Failed sign-ins before lock-out", Kind: NumberSetting, Default: "5", Check: integer(2, 100)},
	{Key: "login.lockout", Group: "security", Label: "Lock-out after repeated failures", Kind: DurationSetting, Default: "15m", Check: duration(time.Minute, 24*time.Hour)},
	{Key: "security.require_admin_2fa", Group: "security", Label: "Administrators must use two-step sign-in", Kind: SwitchSetting, Default: "false", Check: boolean,
		Help: "An administrator without it is sent to set it up before any admin page opens. Admin API keys are not affected."},
	{Key: "access.portal_networks", Group: "access", Label: "User portal: allowed networks", Kind: LongTextSetting, Check: networks,
		Help: "Networks (like 192.0.2.0/24 or 2001:db8::/32) or single addresses, separated by commas or new lines. Empty: every network."},
	{Key: "access.admin_networks", Group: "access", Label: "Admin portal: allowed networks", Kind: LongTextSetting, Check: networks,
		Help: "Your own current address must be in the list. If you lock yourself out all the same, portico settings set access.admin_networks= on the server opens the admin portal again."},
	{Key: "access.api_networks", Group: "access", Label: "Admin API: allowed networks", Kind: LongTextSetting, Check: networks,
		Help: "For the scripts and tools that call /api/v1/."},
	{Key: "password.min_length", Group: "passwords", Label: "Shortest password", Kind: NumberSetting, Default: "10", Check: integer(8, 128),
		Help: "Characters; from 8 to 128. Long passwords protect better than complicated ones."},
	{Key: "password.letters_and_digits", Group: "passwords", Label: "Passwords need letters and digits", Kind: SwitchSetting, Default: "false", Check: boolean},
	{Key: "registration.pin_enabled", Group: "registration", Label: "Registration with a PIN", Kind: SwitchSetting, Default: "false", Check: boolean,
		Help: "Users with the role Request registration PIN get a one-time PIN that the device must give."},
	{Key: "registration.qr_enabled", Group: "registration", Label: "Registration with a QR code", Kind: SwitchSetting, Default: "false", Check: boolean,
		Help: "Users with the role Generate QR code get a QR code to scan with the device."},
	{Key: "registration.invitation_lifetime", Group: "registration", Label: "A registration link works for", Kind: DurationSetting, Default: "168h", Check: duration(time.Hour, 90*24*time.Hour),
		Help: "For example 168h (7 days)."},
	{Key: "registration.pin_lifetime", Group: "registration", Label: "A registration PIN works for", Kind: DurationSetting, Default: "168h", Check: duration(time.Hour, 90*24*time.Hour)},
	{Key: "registration.default_ownership", Group: "registration", Label: "Ownership of devices registered in the portal", Kind: ChoiceSetting,
		Choices: []string{string(OwnershipEmployee), string(OwnershipCompany)}, Default: string(OwnershipEmployee), Check: oneOf(string(OwnershipEmployee), string(OwnershipCompany))},
	{Key: "registration.user_may_change_ownership", Group: "registration", Label: "Users may change the ownership of their devices", Kind: SwitchSetting, Default: "false", Check: boolean},
	{Key: "registration.android_agent_url", Group: "registration", Label: "Store page of the Android device agent", Check: optionalWebURL,
		Help: "Android devices are sent here after signing in at /go; the registration token goes with them."},
	{Key: "registration.windows_agent_url", Group: "registration", Label: "Download address of the Windows device agent", Check: optionalHTTPSURL,
		Help: "Windows PCs are sent here after signing in at /go; the agent asks the user to sign in again."},
	{Key: "actions.wipe_grace", Group: "actions", Label: "Grace period before a wipe goes to the device", Kind: DurationSetting, Default: "60s", Check: duration(0, time.Hour),
		Help: "The user can cancel a wipe during this time; 0s sends it at once."},
	{Key: "actions.collect_timeout", Group: "actions", Label: "An action no device collected expires after", Kind: DurationSetting, Default: "72h", Check: duration(10*time.Second, 90*24*time.Hour)},
	{Key: "actions.answer_timeout", Group: "actions", Label: "An action a device collected but never answered expires after", Kind: DurationSetting, Default: "1h", Check: duration(10*time.Second, 30*24*time.Hour),
		Help: "A retirement that expires retires the device all the same: it leaves the list."},
	{Key: "actions.notify_user", Group: "actions", Label: "Email users when their device is locked, wiped or retired", Kind: SwitchSetting, Default: "false", Check: boolean},
	{Key: "privacy.location_company", Group: "privacy", Label: "Company-owned devices may be located", Kind: SwitchSetting, Default: "true", Check: boolean},
	{Key: "privacy.location_employee", Group: "privacy", Label: "Employee-owned devices may be located", Kind: SwitchSetting, Default: "false", Check: boolean},
	{Key: "privacy.map_tiles", Group: "privacy", Label: "Map tiles", Default: "https://tile.openstreetmap.org/{z}/{x}/{y}.png", Check: optionalTileURL,
		Help: "A web address with {z}, {x} and {y}, for the map beside a located device; empty shows the coordinates only."},
	{Key: "certificates.signing", Group: "certificates", Label: "Name of the signing certificate", Check: text(100),
		Help: "For example \"Email signing certificate\". Empty: users cannot upload signing certificates."},
	{Key: "certificates.encryption", Group: "certificates", Label: "Name of the encryption certificate", Check: text(100),
		Help: "For example \"Email encryption certificate\". Empty: users cannot upload encryption certificates."},
	{Key: "email.server", Group: "certificates", Label: "Email account configuration: mail server", Check: optionalHost,
		Help: "The IMAP or Exchange server the devices' mail app uses. Empty: no email configuration is pushed."},
	{Key: "email.username", Group: "certificates", Label: "Email account configuration: user name", Default: "{email}", Check: userTemplate,
		Help: "{username} and {email} stand for the user's own."},
	{Key: "email.smime_signing", Group: "certificates", Label: "Sign mail with the user's signing certificate", Kind: SwitchSetting, Default: "true", Check: boolean},
	{Key: "email.smime_encryption", Group: "certificates", Label: "Encrypt mail with the user's encryption certificate", Kind: SwitchSetting, Default: "true", Check: boolean},
	{Key: "derived.provider", Group: "derived", Label: "Provider name", Check: line(100),
		Help: "As users know it, for example \"Company ID self-service\"."},
	{Key: "derived.url", Group: "derived", Label: "Self-service address", Check: providerURL,
		Help: "Where users go to get the credential, starting with https://. Portico adds return_url and state to it."},
	{Key: "derived.secret", Group: "derived", Label: "Shared secret", Kind: SecretSetting, Check: derivedSecret,
		Help: "The provider signs its answer with it (HMAC-SHA256); at least 32 characters."},
	{Key: "products.secure_apps", Group: "products", Label: "Secure apps (third-party and in-house apps)", Kind: SwitchSetting, Default: "false", Check: boolean},
	{Key: "products.secure_docs", Group: "products", Label: "Secure docs", Kind: SwitchSetting, Default: "false", Check: boolean},
	{Key: "products.secure_web", Group: "products", Label: "Secure web", Kind: SwitchSetting, Default: "false", Check: boolean},
	{Key: "secure_apps.passcode_required", Group: "secure_apps", Label: "A passcode is required for the secure apps", Kind: SwitchSetting, Default: "false", Check: boolean},
	{Key: "secure_apps.passcode_recovery", Group: "secure_apps", Label: "Users may recover a forgotten passcode", Kind: SwitchSetting, Default: "false", Check: boolean,
		Help: "Users who registered with their password give it on the device; users who registered with a registration PIN get a one-time PIN in the portal (role Reset secure apps passcode)."},
	{Key: "secure_apps.applies_to", Group: "secure_apps", Label: "The policy applies to", Kind: ChoiceSetting, Choices: secureAppsScopes, Default: "all", Check: oneOf(secureAppsScopes...),
		Help: "all: iPhones and Android devices; ios or android: only those."},
	{Key: "registration.instructions.ios", Group: "registration", Label: "Steps for iPhone", Kind: LongTextSetting, Check: text(4000), Default: appleSteps("iPhone", iosInstall)},
	{Key: "registration.instructions.ipados", Group: "registration", Label: "Steps for iPad", Kind: LongTextSetting, Check: text(4000), Default: appleSteps("iPad", iosInstall)},
	{Key: "registration.instructions.android", Group: "registration", Label: "Steps for Android", Kind: LongTextSetting, Check: text(4000), Default: defaultSteps("Android phone or tablet", "Google Play store")},
	{Key: "registration.instructions.macos", Group: "registration", Label: "Steps for Mac", Kind: LongTextSetting, Check: text(4000), Default: appleSteps("Mac", "open System Settings → Privacy & Security → Profiles (on older versions, General → Device Management), select the profile, click Install and enter your Mac password when asked")},
	{Key: "registration.instructions.windows", Group: "registration", Label: "Steps for Windows", Kind: LongTextSetting, Check: text(4000),
		Default: "1. On the Windows PC, open the registration link (or go to /go on this portal).\n" +
			"2. Sign in with your user name and your password or registration PIN.\n" +
			"3. Download and run the device agent from the link on that page; sign in again when it asks.\n" +
			"4. The PC shows as Active in the portal within a minute."},
	{Key: "apple.sign_profile", Group: "apple", Label: "Sign the enrollment profile with the server's certificate", Kind: SwitchSetting, Default: "true", Check: boolean,
		Help: "A signed profile shows who it comes from on the device. Switch off only when the server's certificate cannot sign (a proxy holds the real one)."},
	{Key: "apple.web_clip", Group: "apple", Label: "Put the portal on the home screen of iPhones and iPads", Kind: SwitchSetting, Default: "false", Check: boolean,
		Help: "The enrollment profile adds a Web Clip of the portal."},
	{Key: "mail.host", Group: "mail", Label: "SMTP server", Check: optionalHost,
		Help: "A host name or address, for example smtp.example.com. Empty: no mail is sent."},
	{Key: "mail.port", Group: "mail", Label: "Port", Kind: NumberSetting, Default: "587", Check: integer(1, 65535),
		Help: "Usually 587 with STARTTLS, 465 with TLS."},
	{Key: "mail.security", Group: "mail", Label: "Encryption", Kind: ChoiceSetting, Choices: mailSecurity, Default: "starttls", Check: oneOf(mailSecurity...),
		Help: "starttls: encrypt after connecting; tls: encrypted from the start; none: never encrypt. A password is only ever sent encrypted, or to a server on this machine."},
	{Key: "mail.username", Group: "mail", Label: "User name", Check: line(254), Help: "Empty: send without signing in."},
	{Key: "mail.password", Group: "mail", Label: "Password", Kind: SecretSetting, Check: line(1000)},
	{Key: "mail.from", Group: "mail", Label: "Sender address", Check: optionalEmail, Help: "For example mdm@example.com."},
	{Key: "mail.from_name", Group: "mail", Label: "Sender name", DefaultFrom: "branding.name", Check: line(100),
		Help: "Unless set, the portal name (Settings › Branding)."},
	{Key: "sms.url", Group: "sms", Label: "Gateway URL", Check: optionalWebURL,
		Help: "Where the gateway takes messages, for example https://api.example.com/v1/sms. Empty: no SMS is sent."},
	{Key: "sms.method", Group: "sms", Label: "Method", Kind: ChoiceSetting, Choices: smsMethods, Default: "POST", Check: oneOf(smsMethods...),
		Help: "With GET the body below, form-encoded, is the URL's query."},
	{Key: "sms.content_type", Group: "sms", Label: "Body format", Kind: ChoiceSetting, Choices: smsContentTypes, Default: "json", Check: oneOf(smsContentTypes...),
		Help: "json: application/json; form: application/x-www-form-urlencoded."},
	{Key: "sms.body", Group: "sms", Label: "Body", Kind: LongTextSetting, Default: `{"to": "{to}", "text": "{text}"}`, Check: messageTemplate,
		Help: "{to} and {text} become the phone number and the text, escaped for the format: in JSON, put them inside quotes; as a form, for example to={to}&text={text}."},
	{Key: "sms.auth_header", Group: "sms", Label: "Authentication header", Default: "Authorization", Check: headerName,
		Help: "Sent only when its value is set."},
	{Key: "sms.auth_value", Group: "sms", Label: "Authentication header value", Kind: SecretSetting, Check: line(2000),
		Help: "For example: Bearer followed by the gateway's API key."},
}

// GroupSettings returns the settings of a group, in their declared order.
func GroupSettings(group string) []Setting {
	var out []Setting
	for _, s := range Settings {
		if s.Group == group {
			out = append(out, s)
		}
	}
	return out
}

// LookupSettingGroup returns the group with the key.
func LookupSettingGroup(key string) (SettingGroup, error) {
	i := slices.IndexFunc(SettingGroups, func(g SettingGroup) bool { return g.Key == key })
	if i < 0 {
		return SettingGroup{}, Errorf(ENOTFOUND, "There is no settings page %q.", key)
	}
	return SettingGroups[i], nil
}

// Bool returns a switch setting; values were checked when stored.
func (v SettingValues) Bool(key string) bool { return v.Get(key) == "true" }

// LookupSetting returns the declared setting with the key.
func LookupSetting(key string) (Setting, error) {
	i := slices.IndexFunc(Settings, func(s Setting) bool { return s.Key == key })
	if i < 0 {
		return Setting{}, Errorf(EINVALID, "%q is not a setting; `portico settings get` lists them.", key)
	}
	return Settings[i], nil
}

// SettingValues are the stored values; a missing key has its default.
type SettingValues map[string]string

// Get returns the value of a declared setting, or its default.
func (v SettingValues) Get(key string) string {
	if s, ok := v[key]; ok {
		return s
	}
	s, _ := LookupSetting(key)
	if s.DefaultFrom != "" {
		return v.Get(s.DefaultFrom)
	}
	return s.Default
}

// Duration returns a duration setting; values were checked when stored.
func (v SettingValues) Duration(key string) time.Duration {
	d, _ := time.ParseDuration(v.Get(key))
	return d
}

// Int returns an integer setting; values were checked when stored.
func (v SettingValues) Int(key string) int {
	n, _ := strconv.Atoi(v.Get(key))
	return n
}

// Helpdesk is the contact every portal page shows (SPEC HOME-2).
type Helpdesk struct {
	Name, Phone, Email, Hours, Text string
}

// Helpdesk returns the helpdesk contact.
func (v SettingValues) Helpdesk() Helpdesk {
	return Helpdesk{
		Name: v.Get("helpdesk.name"), Phone: v.Get("helpdesk.phone"),
		Email: v.Get("helpdesk.email"), Hours: v.Get("helpdesk.hours"),
		Text: v.Get("helpdesk.text"),
	}
}

// defaultSteps are a platform's registration steps until an admin writes
// the company's own (SPEC REG-5).
func defaultSteps(device, store string) string {
	return "1. On your " + device + ", open the registration link (or scan the QR code with the camera).\n" +
		"2. Sign in with your user name and your password or registration PIN.\n" +
		"3. Install the device agent from the " + store + " if your company has not installed it for you, open it and sign in again when it asks.\n" +
		"4. The " + device + " shows as Active in the portal within a minute."
}

// appleSteps are the registration steps of an Apple device until an admin
// writes their own: Apple devices need no agent, they enroll with the
// configuration profile that the registration link hands out.
func appleSteps(device, install string) string {
	return "1. On your " + device + ", open the registration link in Safari (or scan the QR code with the camera).\n" +
		"2. Sign in with your user name and password, or enter your registration PIN, and press Continue.\n" +
		"3. Allow the download of the configuration profile when Safari asks.\n" +
		"4. To install it, " + install + ".\n" +
		"5. The " + device + " shows as Active in the portal within a minute."
}

// iosInstall is where an iPhone or iPad keeps a downloaded profile.
const iosInstall = "open Settings → Profile Downloaded, tap Install and enter your passcode when asked"

// Instructions returns the registration steps of a platform.
func (v SettingValues) Instructions(p Platform) string {
	return v.Get("registration.instructions." + string(p))
}

func optionalWebURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Errorf(EINVALID, "%q is not a web address starting with https://.", s)
	}
	return nil
}

// optionalHTTPSURL is an address to download a program from: over plain
// http anyone on the way could hand the user a program of their own.
func optionalHTTPSURL(s string) error {
	if err := optionalWebURL(s); err != nil {
		return err
	}
	if s != "" && !strings.HasPrefix(strings.ToLower(s), "https://") {
		return Errorf(EINVALID, "%q must start with https://: a program downloaded over http could be swapped on the way.", s)
	}
	return nil
}

func optionalTileURL(s string) error {
	if err := optionalWebURL(s); err != nil {
		return err
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if s != "" && !strings.Contains(s, p) {
			return Errorf(EINVALID, "A map tile address has {z}, {x} and {y} in it.")
		}
	}
	return nil
}

// MayLocate reports whether the privacy policy lets the company see where
// a device of this ownership is (SPEC ACT-3, OWN-1).
func (v SettingValues) MayLocate(o Ownership) bool { return v.Bool("privacy.location_" + string(o)) }

func userTemplate(s string) error {
	if err := line(200)(s); err != nil {
		return err
	}
	if !strings.Contains(s, "{username}") && !strings.Contains(s, "{email}") {
		return Errorf(EINVALID, "The user name has {username} or {email} in it, so that each user gets their own.")
	}
	return nil
}

// CertificateName is what the admin named a type of user-provided
// certificate, or "" where users may not upload that type (SPEC CERT-1).
func (v SettingValues) CertificateName(t CertificateType) string {
	return v.Get("certificates." + string(t))
}

// CertificateTypesOffered lists the types users may upload.
func (v SettingValues) CertificateTypesOffered() []CertificateType {
	var out []CertificateType
	for _, t := range CertificateTypes {
		if v.CertificateName(t) != "" {
			out = append(out, t)
		}
	}
	return out
}

// EmailUses reports whether the email account configuration uses a
// certificate of the type, and so is pushed again when it changes.
func (v SettingValues) EmailUses(t CertificateType) bool {
	return v.Get("email.server") != "" && v.Bool("email.smime_"+string(t))
}

func boolean(s string) error {
	if s != "true" && s != "false" {
		return Errorf(EINVALID, "%q is not true or false.", s)
	}
	return nil
}

func oneOf(choices ...string) func(string) error {
	return func(s string) error {
		if !slices.Contains(choices, s) {
			return Errorf(EINVALID, "%q is not one of %s.", s, strings.Join(choices, ", "))
		}
		return nil
	}
}

func text(max int) func(string) error {
	return func(s string) error {
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
			return Errorf(EINVALID, "This value is text of at most %d characters.", max)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }) {
			return Errorf(EINVALID, "This value contains control characters.")
		}
		return nil
	}
}

func optionalEmail(s string) error {
	if s != "" && !validEmail(s) {
		return Errorf(EINVALID, "%q is not an email address.", s)
	}
	return nil
}

func duration(min, max time.Duration) func(string) error {
	return func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d < min || d > max {
			return Errorf(EINVALID, "%q is not a duration between %s and %s (for example 30m or 12h).", s, min, max)
		}
		return nil
	}
}

func integer(min, max int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < min || n > max {
			return Errorf(EINVALID, "%q is not a whole number from %d to %d.", s, min, max)
		}
		return nil
	}
}
