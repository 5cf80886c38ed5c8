package portico

import "time"

// secureAppsScopes are the devices the secure apps policy may apply to:
// all of those that run the secure apps, or one platform's.
var secureAppsScopes = []string{"all", string(PlatformIOS), string(PlatformAndroid)}

// SecureAppsPINLifetime is how long a one-time PIN for recovering a secure
// apps passcode works (SPEC SECPIN-2).
const SecureAppsPINLifetime = 24 * time.Hour

// SecureAppsLicensed reports whether at least one product that uses the
// secure apps passcode is licensed.
func (v SettingValues) SecureAppsLicensed() bool {
	return v.Bool("products.secure_apps") || v.Bool("products.secure_docs") || v.Bool("products.secure_web")
}

// SecureAppsPasscodeRecoverable reports whether a user of a device of the
// platform may recover a forgotten secure apps passcode: a product that
// uses it is licensed, and the policy for the platform requires a passcode
// and lets users recover it (SPEC SECPIN-1). The secure apps run on iPhones
// and Android devices only.
func (v SettingValues) SecureAppsPasscodeRecoverable(p Platform) bool {
	if p != PlatformIOS && p != PlatformAndroid {
		return false
	}
	scope := v.Get("secure_apps.applies_to")
	return v.SecureAppsLicensed() && (scope == "all" || scope == string(p)) &&
		v.Bool("secure_apps.passcode_required") && v.Bool("secure_apps.passcode_recovery")
}

// RegisteredWith is the secret a device's user gave when the device
// registered; it decides which secret recovers a secure apps passcode on it
// (SPEC SECPIN-3).
type RegisteredWith string

const (
	RegisteredWithPassword RegisteredWith = "password"
	RegisteredWithPIN      RegisteredWith = "pin"
)

// SecureAppsPIN is a user's one-time PIN for recovering a secure apps
// passcode (SPEC SECPIN-2). Only its hash is kept, beside this.
type SecureAppsPIN struct {
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when a device recovered a passcode with it; zero while
	// unused.
	UsedAt time.Time
	// Attempts counts the tries of the PIN, right or wrong.
	Attempts int
}
