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
// another would refuse.
type Setting struct {
	Key     string
	Label   string
	Default string
	Check   func(string) error
}

// Settings lists every setting.
var Settings = []Setting{
	{Key: "helpdesk.name", Label: "Helpdesk name", Default: "IT Helpdesk", Check: text(100)},
	{Key: "helpdesk.phone", Label: "Helpdesk phone", Check: text(50)},
	{Key: "helpdesk.email", Label: "Helpdesk email", Check: optionalEmail},
	{Key: "helpdesk.hours", Label: "Helpdesk hours", Check: text(100)},
	{Key: "helpdesk.text", Label: "Helpdesk message", Check: text(1000)},
	{Key: "session.idle_timeout", Label: "Sign out after this long idle", Default: "30m", Check: duration(time.Minute, 24*time.Hour)},
	{Key: "session.lifetime", Label: "Longest session", Default: "12h", Check: duration(5*time.Minute, 30*24*time.Hour)},
	{Key: "login.max_failures", Label: "Failed sign-ins before lock-out", Default: "5", Check: integer(2, 100)},
	{Key: "login.lockout", Label: "Lock-out after repeated failures", Default: "15m", Check: duration(time.Minute, 24*time.Hour)},
}

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
