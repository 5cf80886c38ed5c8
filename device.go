package portico

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Platform is a device's operating system family.
type Platform string

const (
	PlatformIOS     Platform = "ios"
	PlatformIPadOS  Platform = "ipados"
	PlatformAndroid Platform = "android"
	PlatformMacOS   Platform = "macos"
	PlatformWindows Platform = "windows"
)

// Platforms lists the platforms a user can register.
var Platforms = []Platform{PlatformIOS, PlatformIPadOS, PlatformAndroid, PlatformMacOS, PlatformWindows}

var platformNames = map[Platform]string{
	PlatformIOS: "iOS", PlatformIPadOS: "iPadOS", PlatformAndroid: "Android",
	PlatformMacOS: "macOS", PlatformWindows: "Windows",
}

// ParsePlatform returns the platform with the given name.
func ParsePlatform(s string) (Platform, error) {
	p := Platform(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := platformNames[p]; !ok {
		return "", Errorf(EINVALID, "%q is not a platform; choose ios, ipados, android, macos or windows.", s)
	}
	return p, nil
}

// PlatformFromUserAgent guesses the platform of the browser that sent the
// User-Agent, so the registration page shows that platform's steps. An
// iPad that asks for the desktop site says it is a Mac: its owner can pick
// the iPad's steps by hand.
func PlatformFromUserAgent(ua string) (Platform, bool) {
	switch {
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPod"):
		return PlatformIOS, true
	case strings.Contains(ua, "iPad"):
		return PlatformIPadOS, true
	case strings.Contains(ua, "Android"):
		return PlatformAndroid, true
	case strings.Contains(ua, "Windows"):
		return PlatformWindows, true
	case strings.Contains(ua, "Macintosh") || strings.Contains(ua, "Mac OS X"):
		return PlatformMacOS, true
	}
	return "", false
}

// OSName is the platform's operating system as people name it.
func (p Platform) OSName() string { return platformNames[p] }

// DeviceNoun is what people call a device of the platform.
func (p Platform) DeviceNoun() string {
	switch p {
	case PlatformIOS:
		return "iPhone"
	case PlatformIPadOS:
		return "iPad"
	case PlatformAndroid:
		return "Android device"
	case PlatformMacOS:
		return "Mac"
	}
	return "Windows PC"
}

// FormFactor is what kind of thing the platform runs on: phone, tablet or
// computer (the portal draws its icon).
func (p Platform) FormFactor() string {
	switch p {
	case PlatformIPadOS:
		return "tablet"
	case PlatformMacOS, PlatformWindows:
		return "computer"
	}
	return "phone"
}

// Apple reports whether the platform is managed through Apple MDM.
func (p Platform) Apple() bool {
	return p == PlatformIOS || p == PlatformIPadOS || p == PlatformMacOS
}

// DeviceStatus is where a device is in its life.
type DeviceStatus string

const (
	StatusPending DeviceStatus = "pending"
	StatusActive  DeviceStatus = "active"
	StatusWiped   DeviceStatus = "wiped"
	StatusRetired DeviceStatus = "retired"
)

// Label is the status as the portal shows it.
func (s DeviceStatus) Label() string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// Ownership says whose device it is, which decides what the privacy policy
// lets the company see (location, for one).
type Ownership string

const (
	OwnershipEmployee Ownership = "employee"
	OwnershipCompany  Ownership = "company"
)

// ParseOwnership returns the ownership with the given name.
func ParseOwnership(s string) (Ownership, error) {
	switch o := Ownership(strings.ToLower(strings.TrimSpace(s))); o {
	case OwnershipEmployee, OwnershipCompany:
		return o, nil
	}
	return "", Errorf(EINVALID, "%q is not an ownership; choose employee or company.", s)
}

// Label is the ownership as the portal shows it.
func (o Ownership) Label() string { return DeviceStatus(o).Label() }

// DeviceDetails are what a device reports about itself at each check-in
// (SPEC DEV-1).
type DeviceDetails struct {
	Name         string `json:"name"`
	Model        string `json:"model"`
	Manufacturer string `json:"manufacturer"`
	OSVersion    string `json:"os_version"`
	PhoneNumber  string `json:"phone_number,omitempty"`
	Carrier      string `json:"carrier,omitempty"`
	IMEI         string `json:"imei,omitempty"`
	Serial       string `json:"serial,omitempty"`
}

var (
	osVersionPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	imeiPattern      = regexp.MustCompile(`^[0-9]{14,16}$`)
)

// Validate refuses details no device would send: over-long text, control
// characters, a malformed version or IMEI.
func (d DeviceDetails) Validate() error {
	fields := []struct{ label, value string }{
		{"name", d.Name}, {"model", d.Model}, {"manufacturer", d.Manufacturer},
		{"os_version", d.OSVersion}, {"phone_number", d.PhoneNumber},
		{"carrier", d.Carrier}, {"imei", d.IMEI}, {"serial", d.Serial},
	}
	for _, f := range fields {
		if !utf8.ValidString(f.value) || utf8.RuneCountInString(f.value) > 128 {
			return Errorf(EINVALID, "The device's %s must be valid text of at most 128 characters.", f.label)
		}
		if strings.ContainsFunc(f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Errorf(EINVALID, "The device's %s contains control characters.", f.label)
		}
	}
	if d.OSVersion != "" && !osVersionPattern.MatchString(d.OSVersion) {
		return Errorf(EINVALID, "The OS version %q is not a dotted version number such as 17.4.1.", d.OSVersion)
	}
	if d.IMEI != "" && !imeiPattern.MatchString(d.IMEI) {
		return Errorf(EINVALID, "The IMEI %q is not 14 to 16 digits.", d.IMEI)
	}
	return nil
}

// Device is one phone, tablet or computer of a user.
type Device struct {
	ID           int64         `json:"id"`
	UserID       int64         `json:"user_id"`
	Platform     Platform      `json:"platform"`
	Status       DeviceStatus  `json:"status"`
	Ownership    Ownership     `json:"ownership"`
	Details      DeviceDetails `json:"details"`
	CreatedAt    time.Time     `json:"created_at"`
	RegisteredAt time.Time     `json:"registered_at,omitzero"`
	LastCheckin  time.Time     `json:"last_checkin,omitzero"`
}

// Title is how the portal names the device: its own name, else its model,
// else what kind of device it is.
func (d *Device) Title() string {
	switch {
	case d.Details.Name != "":
		return d.Details.Name
	case d.Details.Model != "":
		return d.Details.Model
	case d.Status == StatusPending:
		return "New " + d.Platform.DeviceNoun()
	}
	return d.Platform.DeviceNoun()
}

// OSLabel is the operating system and its version to three parts, as in
// "iOS 17.4.0" or "Windows 10.0.22631" (SPEC DEV-1).
func (d *Device) OSLabel() string {
	v := d.Details.OSVersion
	if v == "" {
		return d.Platform.OSName()
	}
	parts := strings.Split(v, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	return d.Platform.OSName() + " " + strings.Join(parts[:3], ".")
}
