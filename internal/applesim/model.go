package applesim

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/sim"
)

// Model is the hardware and software a simulated device reports: in
// Authenticate, in DeviceInformation and in SecurityInfo.
type Model struct {
	Platform portico.Platform
	// ProductName is the hardware identifier (iPhone15,2, Mac14,2); Model
	// is the part number on iPhone and iPad, the identifier again on a Mac,
	// as the devices report them; ModelName is the family (iPhone, MacBook
	// Air).
	ProductName, Model, ModelName string
	DeviceName                    string
	OSVersion, BuildVersion       string
	SerialNumber, UDID            string
	// CapacityGB is the storage in gigabytes, as DeviceCapacity reports it.
	CapacityGB float64
	// WiFiMAC and BluetoothMAC are the radios' addresses.
	WiFiMAC, BluetoothMAC string
	// SIM is the cellular subscription; nil for a device without one.
	SIM *SIM
}

// SIM is a cellular subscription, as ServiceSubscriptions reports it.
type SIM struct {
	// IMEI is the 15 digits; iOS prints it grouped (35 123456 789012 3).
	IMEI, MEID          string
	ICCID, EID          string
	PhoneNumber         string
	Carrier             string
	MCC, MNC            string
	CarrierSettingsVers string
}

// hardware is one model a platform is simulated with.
type hardware struct {
	productName, model, modelName string
	// chipID prefixes the UDID of iPhones and iPads (the SoC's id); Macs
	// report a UUID instead.
	chipID   uint32
	capacity float64
	cellular bool
	releases []release
}

type release struct{ version, build string }

var (
	ios17 = []release{{"17.4.1", "21E236"}, {"17.5.1", "21F90"}, {"17.6.1", "21G93"}}
	// macOS 14 Sonoma.
	macos14 = []release{{"14.4.1", "23E224"}, {"14.5", "23F79"}, {"14.6.1", "23G93"}}

	hardwareOf = map[portico.Platform]hardware{
		// iPhone 14 Pro (A16).
		portico.PlatformIOS: {"iPhone15,2", "MQ0T3LL", "iPhone", 0x8120, 128, true, ios17},
		// iPad Air (4th generation), Wi-Fi (A14).
		portico.PlatformIPadOS: {"iPad13,1", "MYFM2LL", "iPad", 0x8101, 64, false, ios17},
		// MacBook Air (M2, 2022).
		portico.PlatformMacOS: {"Mac14,2", "Mac14,2", "MacBook Air", 0, 256, false, macos14},
	}

	// networks gives each carrier internal/sim hands out its home network
	// code, which ServiceSubscriptions reports.
	networks = map[string][2]string{
		"Verizon": {"311", "480"}, "AT&T": {"310", "410"}, "T-Mobile": {"310", "260"},
		"EE": {"234", "30"}, "Vodafone UK": {"234", "15"}, "O2": {"234", "10"},
	}
)

// NewModel returns a plausible device of the platform (ios, ipados or
// macos) with a serial number and UDID of its own. i, the device's place in
// a batch, varies the owner's name in the device name.
func NewModel(p portico.Platform, i int, rng *rand.Rand) (Model, error) {
	hw, ok := hardwareOf[p]
	if !ok {
		return Model{}, fmt.Errorf("%q is not an Apple platform: choose ios, ipados or macos", p)
	}
	d := sim.Profile(p, i, rng)
	rel := hw.releases[rng.IntN(len(hw.releases))]
	m := Model{
		Platform: p, ProductName: hw.productName, Model: hw.model, ModelName: hw.modelName,
		DeviceName: d.Name, OSVersion: rel.version, BuildVersion: rel.build,
		SerialNumber: d.Serial, CapacityGB: hw.capacity,
		WiFiMAC: mac(rng), BluetoothMAC: mac(rng),
	}
	if p == portico.PlatformMacOS {
		// The owner's name, then the family, as macOS names a new Mac.
		owner, _, _ := strings.Cut(d.Name, "'s ")
		m.DeviceName = owner + "'s " + hw.modelName
		m.UDID = strings.ToUpper(uuid(rng))
	} else {
		m.UDID = fmt.Sprintf("%08X-%016X", hw.chipID, rng.Uint64()>>8)
	}
	if hw.cellular {
		code := networks[d.Carrier]
		m.SIM = &SIM{
			IMEI: d.IMEI, MEID: d.IMEI[:14], PhoneNumber: d.PhoneNumber, Carrier: d.Carrier,
			MCC: code[0], MNC: code[1], CarrierSettingsVers: "58.0",
			ICCID: iccid(rng, code[0]), EID: fmt.Sprintf("89049032%024d", rng.Uint64()%1e18),
		}
	}
	return m, nil
}

// iccid is a SIM card number: 89 (telecom), the country's calling code
// (1 or 44 for the networks above), an issuer and account, and the Luhn
// check digit.
func iccid(rng *rand.Rand, mcc string) string {
	country := "01"
	if mcc == "234" {
		country = "44"
	}
	b := []byte(fmt.Sprintf("89%s%015d", country, rng.Int64N(1e15)))
	return string(append(b, sim.Luhn(b)))
}

func mac(rng *rand.Rand) string {
	b := make([]string, 6)
	for i := range b {
		b[i] = fmt.Sprintf("%02x", rng.IntN(256))
	}
	return strings.Join(b, ":")
}

// uuid is a random (version 4) UUID drawn from rng, so that a seeded batch
// repeats.
func uuid(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// groupedIMEI prints an IMEI as iOS does in Authenticate.
func groupedIMEI(imei string) string {
	if len(imei) != 15 {
		return imei
	}
	return imei[:2] + " " + imei[2:8] + " " + imei[8:14] + " " + imei[14:]
}

// cities are where simulated devices are, so that DeviceLocation answers
// with a plausible place.
var cities = [][2]float64{
	{52.5200, 13.4050},   // Berlin
	{51.5074, -0.1278},   // London
	{40.7128, -74.0060},  // New York
	{37.7749, -122.4194}, // San Francisco
}

// location is the device's city, chosen by its UDID so that it stays put.
func (m Model) location() (float64, float64) {
	sum := 0
	for _, c := range m.UDID {
		sum += int(c)
	}
	c := cities[sum%len(cities)]
	return c[0], c[1]
}

// facts are the DeviceInformation answers the device knows, by query; it
// leaves out the queries its platform does not answer, as devices do.
func (d *Device) facts() map[string]any {
	m := d.model
	d.mu.Lock()
	lost := d.lostMode
	d.mu.Unlock()
	f := map[string]any{
		"UDID": m.UDID, "DeviceName": m.DeviceName, "OSVersion": m.OSVersion, "BuildVersion": m.BuildVersion,
		"ModelName": m.ModelName, "Model": m.Model, "ProductName": m.ProductName, "SerialNumber": m.SerialNumber,
		"DeviceCapacity": m.CapacityGB, "AvailableDeviceCapacity": m.CapacityGB * 0.62,
		"IsSupervised": d.cfg.Supervised, "WiFiMAC": m.WiFiMAC, "BluetoothMAC": m.BluetoothMAC,
		"IsActivationLockEnabled": false, "AwaitingConfiguration": false, "iTunesStoreAccountIsActive": false,
		"BatteryLevel": 0.87, "MDMOptions": map[string]any{}, "PushToken": d.pushToken,
	}
	if m.Platform == portico.PlatformMacOS {
		host := strings.ReplaceAll(strings.ReplaceAll(m.DeviceName, "'", ""), " ", "-")
		for k, v := range map[string]any{
			"HostName": host + ".local", "LocalHostName": host, "IsAppleSilicon": true, "HasBattery": true,
			"SystemIntegrityProtectionEnabled": true, "IsActivationLockSupported": true,
			"PINRequiredForDeviceLock": true, "PINRequiredForEraseDevice": true,
			"SupportsLOMDevice": false, "SupportsiOSAppInstalls": true,
			"ActiveManagedUsers": []any{}, "AutoSetupAdminAccounts": []any{},
		} {
			f[k] = v
		}
		return f
	}
	for k, v := range map[string]any{
		"IsMDMLostModeEnabled": lost, "IsDeviceLocatorServiceEnabled": true, "IsCloudBackupEnabled": true,
		"IsMultiUser": false, "IsDoNotDisturbInEffect": false, "TimeZone": "Europe/Berlin",
		"DiagnosticSubmissionEnabled": false, "AppAnalyticsEnabled": false, "PersonalHotspotEnabled": false,
	} {
		f[k] = v
	}
	s := m.SIM
	if s == nil {
		return f
	}
	for k, v := range map[string]any{
		"IMEI": groupedIMEI(s.IMEI), "MEID": s.MEID, "ICCID": s.ICCID, "PhoneNumber": s.PhoneNumber,
		"CurrentCarrierNetwork": s.Carrier, "SubscriberCarrierNetwork": s.Carrier, "SIMCarrierNetwork": s.Carrier,
		"CarrierSettingsVersion": s.CarrierSettingsVers,
		"CurrentMCC":             s.MCC, "CurrentMNC": s.MNC, "SubscriberMCC": s.MCC, "SubscriberMNC": s.MNC,
		"SIMMCC": s.MCC, "SIMMNC": s.MNC,
		"DataRoamingEnabled": false, "VoiceRoamingEnabled": false, "IsRoaming": false,
		"CellularTechnology": 3, "ModemFirmwareVersion": "2.02.02",
		"ServiceSubscriptions": []any{map[string]any{
			"Slot": "CTSubscriptionSlotOne", "Label": "Primary", "LabelID": strings.ToUpper(uuidFromText(s.ICCID)),
			"IMEI": groupedIMEI(s.IMEI), "MEID": s.MEID, "ICCID": s.ICCID, "EID": s.EID, "PhoneNumber": s.PhoneNumber,
			"CurrentCarrierNetwork": s.Carrier, "SubscriberCarrierNetwork": s.Carrier,
			"CarrierSettingsVersion": s.CarrierSettingsVers, "CurrentMCC": s.MCC, "CurrentMNC": s.MNC,
			"IsDataPreferred": true, "IsVoicePreferred": true, "IsRoaming": false,
		}},
	} {
		f[k] = v
	}
	return f
}

// uuidFromText is a stable UUID-shaped label for a SIM.
func uuidFromText(s string) string {
	var seed uint64
	for _, c := range s {
		seed = seed*31 + uint64(c)
	}
	return uuid(rand.New(rand.NewPCG(seed, 0)))
}

// security is the SecurityInfo the device reports, shaped like the
// captures of its platform.
func (d *Device) security() map[string]any {
	d.mu.Lock()
	passcode := d.passcode
	d.mu.Unlock()
	if d.model.Platform != portico.PlatformMacOS {
		return map[string]any{
			"HardwareEncryptionCaps": 3, "PasscodePresent": passcode,
			"PasscodeCompliant": true, "PasscodeCompliantWithProfiles": true,
			"PasscodeLockGracePeriod": 0, "PasscodeLockGracePeriodEnforced": 0,
			"ManagementStatus": map[string]any{"IsUserEnrollment": false},
		}
	}
	return map[string]any{
		"AuthenticatedRootVolumeEnabled":                   true,
		"BootstrapTokenAllowedForAuthentication":           "disallowed",
		"BootstrapTokenRequiredForKernelExtensionApproval": false,
		"BootstrapTokenRequiredForSoftwareUpdate":          false,
		"FDE_Enabled":                     true,
		"FDE_HasInstitutionalRecoveryKey": false,
		"FDE_HasPersonalRecoveryKey":      true,
		"FirewallSettings": map[string]any{
			"AllowSigned": true, "AllowSignedApp": true, "Applications": []any{}, "BlockAllIncoming": false,
			"FirewallEnabled": false, "LoggingEnabled": true, "LoggingOption": "throttled", "StealthMode": false,
		},
		"IsRecoveryLockEnabled": false,
		"ManagementStatus": map[string]any{
			"EnrolledViaDEP": false, "IsActivationLockManageable": d.cfg.Supervised,
			"IsUserEnrollment": false, "UserApprovedEnrollment": true,
		},
		"RemoteDesktopEnabled": false,
		"SecureBoot": map[string]any{
			"ExternalBootLevel": "not supported", "SecureBootLevel": "full", "WindowsBootLevel": "not supported",
		},
		"SystemIntegrityProtectionEnabled": true,
	}
}
