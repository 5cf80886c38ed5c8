package portico

import (
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
	Check   func(string) error
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
	{"security", "Sign-in and sessions", "How long sessions last and when repeated failed sign-ins lock an account."},
}

// Settings lists every setting.
var Settings = []Setting{
	{Key: "helpdesk.name", Group: "helpdesk", Label: "Helpdesk name", Default: "IT Helpdesk", Check: text(100)},
	{Key: "helpdesk.phone", Group: "helpdesk", Label: "Helpdesk phone", Check: text(50)},
	{Key: "helpdesk.email", Group: "helpdesk", Label: "Helpdesk email", Check: optionalEmail},
	{Key: "helpdesk.hours", Group: "helpdesk", Label: "Helpdesk hours", Help: "For example: Monday to Friday, 8:00 to 18:00", Check: text(100)},
	{Key: "helpdesk.text", Group: "helpdesk", Label: "Helpdesk message", Kind: LongTextSetting, Check: text(1000)},
	{Key: "session.idle_timeout", Group: "security", Label: "Sign out after this long idle", Kind: DurationSetting, Default: "30m", Check: duration(time.Minute, 24*time.Hour)},
	{Key: "session.lifetime", Group: "security", Label: "Longest session", Kind: DurationSetting, Default: "12h", Check: duration(5*time.Minute, 30*24*time.Hour)},
	{Key: "login.max_failures", Group: "security", Label: "Failed sign-ins before lock-out", Kind: NumberSetting, Default: "5", Check: integer(2, 100)},
	{Key: "login.lockout", Group: "security", Label: "Lock-out after repeated failures", Kind: DurationSetting, Default: "15m", Check: duration(time.Minute, 24*time.Hour)},
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
