package applemdm_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"howett.net/plist"

	"github.com/portico-mdm/portico/internal/applemdm"
)

func readDevice(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "devices", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// checkins are the expectations for every captured check-in message.
var checkins = map[string]func(t *testing.T, m *applemdm.Checkin, err error){
	"Authenticate.iMac-macOS10.12.2.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		authenticated(t, m, err, "E3568F17-92ED-450A-8904-C3BF4CB7E9A5", "10.12.2", "000000000000", "iMac17,1")
		equal(t, "DeviceName", m.DeviceName, "commandment")
		equal(t, "Model", m.Model, "iMac17,1")
	},
	"Authenticate.iMac-macOS10.12.6.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		authenticated(t, m, err, "66ADE930-5FDF-5EC4-8429-15640684C489", "10.12.6", "C02MT66KFLHH", "iMac14,2")
		equal(t, "DeviceName", m.DeviceName, "Fruit")
		equal(t, "Topic", m.Topic, "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9")
	},
	"Authenticate.iPad-iOS11.3.1.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		authenticated(t, m, err, "1c111c111c111c111c111c111c111c111c111c11", "11.3.1", "XXXXXXXXXXXX", "iPad4,1")
	},
	"Authenticate.iPad-iOS9.3.5.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		authenticated(t, m, err, "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69", "9.3.5", "F5JM992LF193", "iPad2,5")
	},
	"Authenticate.iPhone-iOS11.3.1.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		authenticated(t, m, err, "1111111111111111111111111111111111111111", "11.3.1", "XXXXXXXXXXXX", "iPhone7,2")
		equal(t, "IMEI", m.IMEI, "11 111111 111111 1")
	},
	"CheckOut.iOS11.3.1.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		checkedOut(t, m, err, "1c111c111c111c111c111c111c111c111c111c11")
	},
	"CheckOut.macOS10.11.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		checkedOut(t, m, err, "00000000-1111-2222-3333-444455556666")
	},
	"TokenUpdate.iMac-macOS10.12.6.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		tokenUpdated(t, m, err, "66ADE930-5FDF-5EC4-8429-15640684C489", "888CEB39-BFFA-40F6-89FA-B60752EB63C2", 32)
		equal(t, "len(UnlockToken)", len(m.UnlockToken), 0)
	},
	"TokenUpdate.iPad-iOS9.3.5.with-UnlockToken.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		tokenUpdated(t, m, err, "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69", "CEFDF0BD-E342-4A27-8742-E930EA116B0A", 32)
		equal(t, "len(UnlockToken)", len(m.UnlockToken), 1288)
	},
	"TokenUpdate.user-channel.iMac-macOS10.12.2.plist": func(t *testing.T, m *applemdm.Checkin, err error) {
		if !errors.Is(err, applemdm.ErrUserChannel) {
			t.Errorf("a user-channel TokenUpdate gives %v, want ErrUserChannel", err)
		}
	},
}

func authenticated(t *testing.T, m *applemdm.Checkin, err error, udid, os, serial, product string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "MessageType", m.MessageType, applemdm.Authenticate)
	equal(t, "UDID", m.UDID, udid)
	equal(t, "OSVersion", m.OSVersion, os)
	equal(t, "SerialNumber", m.SerialNumber, serial)
	equal(t, "ProductName", m.ProductName, product)
	if !strings.HasPrefix(m.Topic, "com.apple.mgmt.") {
		t.Errorf("Topic = %q", m.Topic)
	}
}

func checkedOut(t *testing.T, m *applemdm.Checkin, err error, udid string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "MessageType", m.MessageType, applemdm.CheckOut)
	equal(t, "UDID", m.UDID, udid)
}

func tokenUpdated(t *testing.T, m *applemdm.Checkin, err error, udid, magic string, tokenLen int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "MessageType", m.MessageType, applemdm.TokenUpdate)
	equal(t, "UDID", m.UDID, udid)
	equal(t, "PushMagic", m.PushMagic, magic)
	equal(t, "len(Token)", len(m.Token), tokenLen)
}

// results are the expectations for every captured command result.
var results = map[string]func(t *testing.T, r *applemdm.Result){
	"CommandFormatError.iOS11.3.1.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.CommandFormatError, "52aab5d2-6a61-4fe8-b685-44f8b56972d0")
		equal(t, "ErrorMessage", r.ErrorMessage(), "The device could not read the command (CommandFormatError).")
	},
	"DeviceInformation.Mac-macOS10.13.1.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "be926f7e-9cd2-465a-ba2b-b573dc4eaa7a")
		info(t, r, "commandment", "MacPro6,1", "Mac Pro", "10.13.1", "AB123CD45G")
	},
	"DeviceInformation.VirtualMac-macOS13.0beta.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "02CD8B7A-465F-49E6-86D6-D3ACAAE5529E")
		info(t, r, "Yolo", "VirtualMac2,1", "Virtual Machine", "13.0", "Z3C2FCE2C0")
		equal(t, "IsSupervised", r.QueryResponses.IsSupervised, true)
		equal(t, "PINRequiredForDeviceLock", r.QueryResponses.PINRequiredForDeviceLock, true)
	},
	"DeviceInformation.iMac-macOS10.12.6.minimal.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "76eda240-5488-4989-8339-f2ae160113c4")
		info(t, r, "", "", "", "", "")
		equal(t, "QueryResponses.UDID", r.QueryResponses.UDID, "66ADE930-5FDF-5EC4-8429-15640684C489")
	},
	"DeviceInformation.iPad-iOS11.3.1.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "3ab89975-490b-4f33-80c7-0982069272ba")
		info(t, r, "iPad", "MD786X", "iPad", "11.3.1", "C00000000004")
		equal(t, "ProductName", r.QueryResponses.ProductName, "iPad4,1")
		imei, phone, carrier := r.QueryResponses.Cellular()
		equal(t, "Cellular of a Wi-Fi iPad", imei+phone+carrier, "")
	},
	"DeviceInformation.iPhone-iOS15.7.trimmed.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "DevInfo001")
		info(t, r, "My iPhone", "MN9H2LL", "iPhone", "15.7", "BNPTFLNZHG7K")
	},
	"DeviceLock.response.iOS11.3.1-NoPasscodeSet.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "b6c8627f-bf4a-4ef4-8f40-d8673cd568c9")
		equal(t, "MessageResult", r.MessageResult, "NoPasscodeSet")
	},
	"Error.NSOSStatusErrorDomain-909.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Error, "D053EE3A-EE0E-4E82-87D2-BB3624186694")
		equal(t, "ErrorCode", r.ErrorChain[0].ErrorCode, -909)
		equal(t, "ErrorMessage", r.ErrorMessage(), "<NSOSStatusErrorDomain:-909>")
	},
	"Error.invalid-request-type.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Error, "00000000-1111-2222-3333-444455556666")
		equal(t, "ErrorDomain", r.ErrorChain[0].ErrorDomain, "MCMDMErrorDomain")
		equal(t, "ErrorMessage", r.ErrorMessage(), "“OSUpdateStatus” is not a valid request type.")
	},
	"Error.unknown-command.macOS10.13.6.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Error, "bac6348e-3291-4523-a354-037ec379b738")
		equal(t, "ErrorCode", r.ErrorChain[0].ErrorCode, 12021)
		equal(t, "ErrorMessage", r.ErrorMessage(), "Unknown command: ShutdownDevice <MDMClientError:91>")
	},
	"NotNow.iOS11.3.1.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.NotNow, "bb5d7813-e7c3-4279-b954-4b678925de5f")
	},
	"ProfileList.iOS11.3.1.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "2d1d3845-3e06-4687-a357-b343ebb17888")
		profiles(t, r, "dev.commandment.enroll")
	},
	"ProfileList.macOS.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "ABCC7D59-00FC-45DE-995A-296B119583E8")
		profiles(t, r, "com.example.zentral.santa_configuration", "com.example.zentral.mdm")
	},
	"ProfileList.macOS10.11.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "00000000-1111-2222-3333-444455556666")
		profiles(t, r, "com.github.micromdm.micromdm.mdm")
	},
	"RemoveProfile.Error-no-Identifier.macOS10.12.5.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Error, "93a81e2a-8fbe-4e4b-b6e5-ee9148893f33")
		equal(t, "RequestType", r.RequestType, "RemoveProfile")
		equal(t, "ErrorCode", r.ErrorChain[0].ErrorCode, 97)
	},
	"RemoveProfile.Error-not-managed.iOS11.3.1.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Error, "b2da2591-a2e5-45e5-8dd8-0ffb050d8407")
		equal(t, "ErrorCode", r.ErrorChain[0].ErrorCode, 12013)
		if !strings.Contains(r.ErrorMessage(), "is not managed by MDM.") {
			t.Errorf("ErrorMessage = %q", r.ErrorMessage())
		}
	},
	"SecurityInfo.MacBookPro-macOS-Intel.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "53115671-3f45-49f5-b7cb-22ede8b8afdc")
		equal(t, "FDE_Enabled", r.SecurityInfo.FDEEnabled, false)
		equal(t, "SIP", r.SecurityInfo.SystemIntegrityProtectionEnabled, true)
	},
	"SecurityInfo.VirtualMac-macOS13.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "9A105E87-EC35-4F65-A265-423CFB92D624")
		equal(t, "FDE_Enabled", r.SecurityInfo.FDEEnabled, true)
		equal(t, "SIP", r.SecurityInfo.SystemIntegrityProtectionEnabled, true)
	},
	"SecurityInfo.iOS.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "9A105E87-EC35-4F65-A265-423CFB92D624")
		equal(t, "HardwareEncryptionCaps", r.SecurityInfo.HardwareEncryptionCaps, 3)
		equal(t, "PasscodePresent", r.SecurityInfo.PasscodePresent, false)
		equal(t, "IsUserEnrollment", r.SecurityInfo.ManagementStatus.IsUserEnrollment, false)
	},
	"SecurityInfo.iOS11.3.1.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "f1048316-6628-4b32-b2f2-708d7f4d7105")
		equal(t, "HardwareEncryptionCaps", r.SecurityInfo.HardwareEncryptionCaps, 3)
	},
	"SecurityInfo.macOS10.13.1.plist": func(t *testing.T, r *applemdm.Result) {
		status(t, r, applemdm.Acknowledged, "bf88d054-bd86-480d-b406-a1bc74a403c0")
		equal(t, "SIP", r.SecurityInfo.SystemIntegrityProtectionEnabled, false)
	},
}

func status(t *testing.T, r *applemdm.Result, s applemdm.Status, uuid string) {
	t.Helper()
	equal(t, "Status", r.Status, s)
	equal(t, "CommandUUID", r.CommandUUID, uuid)
	if r.UDID == "" {
		t.Error("no UDID")
	}
}

func info(t *testing.T, r *applemdm.Result, name, model, modelName, os, serial string) {
	t.Helper()
	q := r.QueryResponses
	if q == nil {
		t.Fatal("no QueryResponses")
	}
	equal(t, "DeviceName", q.DeviceName, name)
	equal(t, "Model", q.Model, model)
	equal(t, "ModelName", q.ModelName, modelName)
	equal(t, "OSVersion", q.OSVersion, os)
	equal(t, "SerialNumber", q.SerialNumber, serial)
}

func profiles(t *testing.T, r *applemdm.Result, ids ...string) {
	t.Helper()
	var got []string
	for _, p := range r.ProfileList {
		got = append(got, p.PayloadIdentifier)
	}
	equal(t, "profile identifiers", strings.Join(got, " "), strings.Join(ids, " "))
}

// TestCaptures decodes every captured device message, and fails for a
// capture that has no expectation, so that none is skipped.
func TestCaptures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "devices", "*.plist"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			body := readDevice(t, name)
			if check, ok := checkins[name]; ok {
				m, err := applemdm.DecodeCheckin(body)
				check(t, m, err)
				if _, err := applemdm.DecodeResult(body); err == nil {
					t.Error("a check-in message decodes as a command result")
				}
				return
			}
			check, ok := results[name]
			if !ok {
				t.Fatal("no expectation for this capture")
			}
			r, err := applemdm.DecodeResult(body)
			if err != nil {
				t.Fatal(err)
			}
			check(t, r)
			if _, err := applemdm.DecodeCheckin(body); err == nil {
				t.Error("a command result decodes as a check-in message")
			}
		})
	}
}

// TestCellular reads the IMEI, phone number and carrier that no capture
// has: no public capture of a cellular DeviceInformation answer exists, so
// these answers are built from Apple's schema (information.device.yaml:
// ServiceSubscriptions, iOS 12+, and the top-level keys older systems
// send, deprecated in iOS 16).
func TestCellular(t *testing.T) {
	tests := []struct {
		name                 string
		queries              map[string]any
		imei, phone, carrier string
	}{
		{"dual SIM, data on the second", map[string]any{"ServiceSubscriptions": []any{
			map[string]any{"Slot": "CTSubscriptionSlotOne", "IMEI": "35 000000 000001 1", "PhoneNumber": "+15550001", "CurrentCarrierNetwork": "One", "IsDataPreferred": false},
			map[string]any{"Slot": "CTSubscriptionSlotTwo", "IMEI": "350000000000029", "PhoneNumber": "+15550002", "CurrentCarrierNetwork": "Two", "IsDataPreferred": true},
		}}, "350000000000029", "+15550002", "Two"},
		{"one SIM, subscriber carrier only", map[string]any{"ServiceSubscriptions": []any{
			map[string]any{"Slot": "CTSubscriptionSlotOne", "IMEI": "350000000000011", "PhoneNumber": "+15550001", "SubscriberCarrierNetwork": "Home"},
		}}, "350000000000011", "+15550001", "Home"},
		{"iOS 11 top-level keys", map[string]any{"IMEI": "35 000000 000003 7", "PhoneNumber": "+15550003", "CurrentCarrierNetwork": "Old"},
			"350000000000037", "+15550003", "Old"},
		{"Wi-Fi only", map[string]any{"DeviceName": "iPad"}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := plist.Marshal(map[string]any{
				"UDID": "0000-1", "CommandUUID": "C-1", "Status": "Acknowledged", "QueryResponses": tt.queries,
			}, plist.XMLFormat)
			if err != nil {
				t.Fatal(err)
			}
			r, err := applemdm.DecodeResult(body)
			if err != nil {
				t.Fatal(err)
			}
			imei, phone, carrier := r.QueryResponses.Cellular()
			equal(t, "IMEI", imei, tt.imei)
			equal(t, "phone", phone, tt.phone)
			equal(t, "carrier", carrier, tt.carrier)
		})
	}
}

// TestLocation reads a DeviceLocation answer built from Apple's schema
// (device.lostmode.location.yaml): no public capture exists.
func TestLocation(t *testing.T) {
	body, _ := plist.Marshal(map[string]any{
		"UDID": "0000-1", "CommandUUID": "C-2", "Status": "Acknowledged",
		"Latitude": 52.52, "Longitude": 13.405, "HorizontalAccuracy": 12.5, "Altitude": 34.0,
		"Timestamp": "2026-03-02T09:00:00Z",
	}, plist.XMLFormat)
	r, err := applemdm.DecodeResult(body)
	if err != nil {
		t.Fatal(err)
	}
	lat, lon, acc, at, ok := r.Location()
	if !ok || lat != 52.52 || lon != 13.405 || acc != 12.5 || at.Hour() != 9 {
		t.Errorf("Location() = %v %v %v %v %v", lat, lon, acc, at, ok)
	}
	r.Timestamp = "yesterday"
	if _, _, _, _, ok := r.Location(); ok {
		t.Error("a location with an unreadable time is taken")
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty", ""},
		{"not a plist", "hello"},
		{"an array", `<plist version="1.0"><array><string>x</string></array></plist>`},
		{"truncated", `<?xml version="1.0"?><plist version="1.0"><dict><key>MessageType</key>`},
		{"no message type", `<plist version="1.0"><dict><key>UDID</key><string>1</string><key>Topic</key><string>t</string></dict></plist>`},
		{"unknown message type", `<plist version="1.0"><dict><key>MessageType</key><string>Hello</string><key>UDID</key><string>1</string><key>Topic</key><string>t</string></dict></plist>`},
		{"no UDID", `<plist version="1.0"><dict><key>MessageType</key><string>CheckOut</string><key>Topic</key><string>t</string></dict></plist>`},
		{"token update without token", `<plist version="1.0"><dict><key>MessageType</key><string>TokenUpdate</string><key>UDID</key><string>1</string><key>Topic</key><string>t</string><key>PushMagic</key><string>m</string></dict></plist>`},
		{"wrong type of UDID", `<plist version="1.0"><dict><key>MessageType</key><string>CheckOut</string><key>UDID</key><array/><key>Topic</key><string>t</string></dict></plist>`},
		{"too large", `<plist version="1.0"><dict><key>MessageType</key><string>` + strings.Repeat("A", applemdm.MaxBody) + `</string></dict></plist>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := applemdm.DecodeCheckin([]byte(tt.body)); !errors.Is(err, applemdm.ErrMalformed) {
				t.Errorf("DecodeCheckin: %v, want ErrMalformed", err)
			}
		})
	}
	results := []struct{ name, body string }{
		{"no status", `<plist version="1.0"><dict><key>UDID</key><string>1</string></dict></plist>`},
		{"unknown status", `<plist version="1.0"><dict><key>UDID</key><string>1</string><key>Status</key><string>Maybe</string><key>CommandUUID</key><string>c</string></dict></plist>`},
		{"acknowledged without uuid", `<plist version="1.0"><dict><key>UDID</key><string>1</string><key>Status</key><string>Acknowledged</string></dict></plist>`},
		{"no UDID", `<plist version="1.0"><dict><key>Status</key><string>Idle</string></dict></plist>`},
	}
	for _, tt := range results {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := applemdm.DecodeResult([]byte(tt.body)); !errors.Is(err, applemdm.ErrMalformed) {
				t.Errorf("DecodeResult: %v, want ErrMalformed", err)
			}
		})
	}
}

// FuzzDecode feeds the decoders anything: they may refuse, never panic.
// The seed corpus in testdata/fuzz runs with every go test.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "devices", "*.plist"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if m, err := applemdm.DecodeCheckin(body); err == nil && (m.UDID == "" || m.MessageType == "") {
			t.Errorf("accepted a check-in without UDID or MessageType: %+v", m)
		}
		if r, err := applemdm.DecodeResult(body); err == nil {
			r.ErrorMessage()
			r.Location()
			if r.QueryResponses != nil {
				r.QueryResponses.Cellular()
			}
		}
	})
}
