package applemdm

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is what a device says about the command it last got.
type Status string

const (
	Acknowledged       Status = "Acknowledged"
	Error              Status = "Error"
	CommandFormatError Status = "CommandFormatError"
	Idle               Status = "Idle"
	NotNow             Status = "NotNow"
)

// ErrorChainItem is one link of the explanation of an Error.
type ErrorChainItem struct {
	ErrorCode            int    `plist:"ErrorCode"`
	ErrorDomain          string `plist:"ErrorDomain"`
	LocalizedDescription string `plist:"LocalizedDescription"`
	USEnglishDescription string `plist:"USEnglishDescription"`
}

// Result is a device's request on the command channel: Idle asking for
// work, or the result of a command with the response keys of its type.
type Result struct {
	UDID        string           `plist:"UDID"`
	CommandUUID string           `plist:"CommandUUID"`
	Status      Status           `plist:"Status"`
	ErrorChain  []ErrorChainItem `plist:"ErrorChain"`
	// RequestType is echoed by some devices in an error.
	RequestType string `plist:"RequestType"`

	// DeviceInformation.
	QueryResponses *DeviceInformation `plist:"QueryResponses"`
	// SecurityInfo.
	SecurityInfo *SecurityInfo `plist:"SecurityInfo"`
	// DeviceLock.
	MessageResult string `plist:"MessageResult"`
	// DeviceLocation.
	Latitude           *float64 `plist:"Latitude"`
	Longitude          *float64 `plist:"Longitude"`
	HorizontalAccuracy float64  `plist:"HorizontalAccuracy"`
	VerticalAccuracy   float64  `plist:"VerticalAccuracy"`
	Altitude           float64  `plist:"Altitude"`
	Speed              float64  `plist:"Speed"`
	Course             float64  `plist:"Course"`
	Timestamp          string   `plist:"Timestamp"`
	// ProfileList.
	ProfileList []Profile `plist:"ProfileList"`

	// Present only on the channels Portico refuses.
	UserID       string `plist:"UserID"`
	EnrollmentID string `plist:"EnrollmentID"`
}

// DecodeResult decodes a request on the command channel.
func DecodeResult(body []byte) (*Result, error) {
	var r Result
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	if r.UserID != "" || r.EnrollmentID != "" {
		return nil, ErrUserChannel
	}
	if r.UDID == "" {
		return nil, fmt.Errorf("%w: no UDID", ErrMalformed)
	}
	switch r.Status {
	case Idle:
	case Acknowledged, Error, CommandFormatError, NotNow:
		if r.CommandUUID == "" {
			return nil, fmt.Errorf("%w: a %s result needs its CommandUUID", ErrMalformed, r.Status)
		}
	case "":
		return nil, fmt.Errorf("%w: no Status", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: unknown Status %q", ErrMalformed, r.Status)
	}
	return &r, nil
}

// ErrorMessage is what went wrong, in words, for an Error or a
// CommandFormatError: the descriptions of the error chain, outermost
// first.
func (r *Result) ErrorMessage() string {
	if r.Status == CommandFormatError {
		return "The device could not read the command (CommandFormatError)."
	}
	var parts []string
	for _, e := range r.ErrorChain {
		text := strings.TrimSpace(e.USEnglishDescription)
		if text == "" {
			text = strings.TrimSpace(e.LocalizedDescription)
		}
		if text == "" {
			text = fmt.Sprintf("%s error %d", e.ErrorDomain, e.ErrorCode)
		}
		parts = append(parts, text)
	}
	if len(parts) == 0 {
		return "The device reported an error without saying which."
	}
	return strings.Join(parts, " — ")
}

// Location is the answer to DeviceLocation, when it has one.
func (r *Result) Location() (lat, lon, accuracy float64, at time.Time, ok bool) {
	if r.Latitude == nil || r.Longitude == nil {
		return 0, 0, 0, time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339, r.Timestamp)
	if err != nil {
		return 0, 0, 0, time.Time{}, false
	}
	return *r.Latitude, *r.Longitude, r.HorizontalAccuracy, at, true
}

// DeviceInformation is the QueryResponses of a DeviceInformation answer:
// the keys Portico asks for (Apple's information.device.yaml).
type DeviceInformation struct {
	DeviceName   string `plist:"DeviceName"`
	Model        string `plist:"Model"`
	ModelName    string `plist:"ModelName"`
	ModelNumber  string `plist:"ModelNumber"`
	ProductName  string `plist:"ProductName"`
	OSVersion    string `plist:"OSVersion"`
	BuildVersion string `plist:"BuildVersion"`
	SerialNumber string `plist:"SerialNumber"`
	UDID         string `plist:"UDID"`
	// Deprecated at the top level in iOS 16: ServiceSubscriptions has
	// them per SIM.
	IMEI                     string `plist:"IMEI"`
	MEID                     string `plist:"MEID"`
	PhoneNumber              string `plist:"PhoneNumber"`
	ICCID                    string `plist:"ICCID"`
	CurrentCarrierNetwork    string `plist:"CurrentCarrierNetwork"`
	SubscriberCarrierNetwork string `plist:"SubscriberCarrierNetwork"`

	ServiceSubscriptions []ServiceSubscription `plist:"ServiceSubscriptions"`

	IsSupervised              bool `plist:"IsSupervised"`
	IsMDMLostModeEnabled      bool `plist:"IsMDMLostModeEnabled"`
	PINRequiredForDeviceLock  bool `plist:"PINRequiredForDeviceLock"`
	PINRequiredForEraseDevice bool `plist:"PINRequiredForEraseDevice"`
}

// ServiceSubscription is one SIM of a device (iOS 12+).
type ServiceSubscription struct {
	Slot                     string `plist:"Slot"`
	Label                    string `plist:"Label"`
	IMEI                     string `plist:"IMEI"`
	MEID                     string `plist:"MEID"`
	ICCID                    string `plist:"ICCID"`
	EID                      string `plist:"EID"`
	PhoneNumber              string `plist:"PhoneNumber"`
	CurrentCarrierNetwork    string `plist:"CurrentCarrierNetwork"`
	SubscriberCarrierNetwork string `plist:"SubscriberCarrierNetwork"`
	IsDataPreferred          bool   `plist:"IsDataPreferred"`
}

// Cellular is the device's identity on the mobile network: the IMEI,
// phone number and carrier of its data SIM from ServiceSubscriptions,
// else of the first SIM that has them, else the deprecated top-level keys
// older systems send.
func (d *DeviceInformation) Cellular() (imei, phone, carrier string) {
	subs := slices.Clone(d.ServiceSubscriptions)
	for i, s := range subs {
		if s.IsDataPreferred {
			subs[0], subs[i] = subs[i], subs[0]
			break
		}
	}
	pick := func(top string, of func(ServiceSubscription) string) string {
		for _, s := range subs {
			if v := of(s); v != "" {
				return v
			}
		}
		return top
	}
	imei = pick(d.IMEI, func(s ServiceSubscription) string { return s.IMEI })
	phone = pick(d.PhoneNumber, func(s ServiceSubscription) string { return s.PhoneNumber })
	carrier = pick(d.CurrentCarrierNetwork, func(s ServiceSubscription) string {
		if s.CurrentCarrierNetwork != "" {
			return s.CurrentCarrierNetwork
		}
		return s.SubscriberCarrierNetwork
	})
	if carrier == "" {
		carrier = d.SubscriberCarrierNetwork
	}
	return strings.ReplaceAll(imei, " ", ""), phone, carrier
}

// SecurityInfo is the answer to SecurityInfo: the keys of iOS and macOS
// that say whether the device is protected (Apple's
// information.security.yaml).
type SecurityInfo struct {
	PasscodePresent                  bool `plist:"PasscodePresent"`
	PasscodeCompliant                bool `plist:"PasscodeCompliant"`
	PasscodeCompliantWithProfiles    bool `plist:"PasscodeCompliantWithProfiles"`
	HardwareEncryptionCaps           int  `plist:"HardwareEncryptionCaps"`
	FDEEnabled                       bool `plist:"FDE_Enabled"`
	SystemIntegrityProtectionEnabled bool `plist:"SystemIntegrityProtectionEnabled"`
	ManagementStatus                 struct {
		EnrolledViaDEP         bool `plist:"EnrolledViaDEP"`
		IsUserEnrollment       bool `plist:"IsUserEnrollment"`
		UserApprovedEnrollment bool `plist:"UserApprovedEnrollment"`
	} `plist:"ManagementStatus"`
	FirewallSettings struct {
		FirewallEnabled bool `plist:"FirewallEnabled"`
	} `plist:"FirewallSettings"`
}

// Profile is one entry of a ProfileList answer.
type Profile struct {
	PayloadIdentifier        string   `plist:"PayloadIdentifier"`
	PayloadUUID              string   `plist:"PayloadUUID"`
	PayloadDisplayName       string   `plist:"PayloadDisplayName"`
	PayloadVersion           int      `plist:"PayloadVersion"`
	IsEncrypted              bool     `plist:"IsEncrypted"`
	IsManaged                bool     `plist:"IsManaged"`
	PayloadRemovalDisallowed bool     `plist:"PayloadRemovalDisallowed"`
	SignerCertificates       [][]byte `plist:"SignerCertificates"`
}
