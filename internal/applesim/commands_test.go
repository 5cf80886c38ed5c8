package applesim

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"howett.net/plist"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applesim/applesimtest"
)

// do sends the command, lets the device poll, and returns its result,
// checking the envelope every result has.
func exchange(t *testing.T, s *applesimtest.Server, d *Device, cmd map[string]any) map[string]any {
	t.Helper()
	id := s.Send(cmd)[0]
	if _, err := d.Poll(context.Background()); err != nil {
		t.Fatalf("Poll: %v", err)
	}
	res := s.LastResult()
	if res["CommandUUID"] != id || res["UDID"] != d.UDID() {
		t.Fatalf("result %v is not for command %s of %s", res, id, d.UDID())
	}
	return res
}

func errorOf(res map[string]any) (string, uint64, string) {
	chain, _ := res["ErrorChain"].([]any)
	if len(chain) != 1 {
		return "", 0, ""
	}
	e := chain[0].(map[string]any)
	code, _ := e["ErrorCode"].(uint64)
	desc, _ := e["LocalizedDescription"].(string)
	domain, _ := e["ErrorDomain"].(string)
	return domain, code, desc
}

func TestCommands(t *testing.T) {
	ios, ipad, mac := portico.PlatformIOS, portico.PlatformIPadOS, portico.PlatformMacOS
	lost := map[string]any{"RequestType": "EnableLostMode", "Message": "Please call", "PhoneNumber": "+1 212 555 0100"}
	tests := []struct {
		name       string
		platform   portico.Platform
		supervised bool
		before     []map[string]any
		cmd        map[string]any
		status     string
		// keys are the response keys besides the envelope; domain and code
		// the error of an Error.
		keys   []string
		domain string
		code   uint64
		// shape is a capture the result must have the keys of.
		shape string
		check func(t *testing.T, d *Device, res map[string]any)
	}{
		{name: "lock iPhone with message", platform: ios, cmd: map[string]any{"RequestType": "DeviceLock", "Message": "Found? Call me", "PhoneNumber": "+1 212 555 0100"},
			status: "Acknowledged", keys: []string{"MessageResult"}, shape: "DeviceLock.response.iOS11.3.1-NoPasscodeSet.plist",
			check: func(t *testing.T, _ *Device, res map[string]any) {
				if res["MessageResult"] != "Success" {
					t.Errorf("MessageResult %v", res["MessageResult"])
				}
			}},
		{name: "lock iPhone without message", platform: ios, cmd: map[string]any{"RequestType": "DeviceLock"}, status: "Acknowledged"},
		{name: "lock iPhone without passcode", platform: ios, before: []map[string]any{{"RequestType": "ClearPasscode"}},
			cmd: map[string]any{"RequestType": "DeviceLock", "Message": "m"}, status: "Acknowledged", keys: []string{"MessageResult"},
			check: func(t *testing.T, _ *Device, res map[string]any) {
				if res["MessageResult"] != "NoPasscodeSet" {
					t.Errorf("MessageResult %v, want NoPasscodeSet once the passcode is cleared", res["MessageResult"])
				}
			}},
		{name: "lock Mac with PIN", platform: mac, cmd: map[string]any{"RequestType": "DeviceLock", "PIN": "123456"}, status: "Acknowledged"},
		{name: "lock Mac without PIN", platform: mac, cmd: map[string]any{"RequestType": "DeviceLock", "Message": "m"}, status: "Error",
			domain: "MDMClientError", code: 97, shape: "Error.unknown-command.macOS10.13.6.plist"},
		{name: "lock Mac with a short PIN", platform: mac, cmd: map[string]any{"RequestType": "DeviceLock", "PIN": "1234"}, status: "CommandFormatError",
			shape: "CommandFormatError.iOS11.3.1.plist"},
		{name: "lock with a message of the wrong type", platform: ios, cmd: map[string]any{"RequestType": "DeviceLock", "Message": 7}, status: "CommandFormatError"},
		{name: "clear passcode with wrong token", platform: ipad, cmd: map[string]any{"RequestType": "ClearPasscode", "UnlockToken": []byte("not it")}, status: "Error",
			domain: "MCPasscodeErrorDomain", code: 5013, shape: "Error.invalid-request-type.plist"},
		{name: "clear passcode without token", platform: ios, cmd: map[string]any{"RequestType": "ClearPasscode"}, status: "CommandFormatError"},
		{name: "clear passcode on a Mac", platform: mac, cmd: map[string]any{"RequestType": "ClearPasscode", "UnlockToken": []byte("x")}, status: "Error",
			domain: "MCMDMErrorDomain", code: 12021},
		{name: "lost mode unsupervised", platform: ios, cmd: lost, status: "Error", domain: "MCChaperoneErrorDomain", code: 29000},
		{name: "lost mode supervised", platform: ios, supervised: true, cmd: lost, status: "Acknowledged",
			check: func(t *testing.T, d *Device, _ map[string]any) {
				if !d.LostMode() {
					t.Error("the device is not in lost mode")
				}
			}},
		{name: "lost mode without message or number", platform: ios, supervised: true, cmd: map[string]any{"RequestType": "EnableLostMode", "Footnote": "f"}, status: "CommandFormatError"},
		{name: "lock in lost mode", platform: ios, supervised: true, before: []map[string]any{lost},
			cmd: map[string]any{"RequestType": "DeviceLock", "Message": "m"}, status: "Acknowledged", keys: []string{"MessageResult"},
			check: func(t *testing.T, _ *Device, res map[string]any) {
				if res["MessageResult"] != "DeviceInLostMode" {
					t.Errorf("MessageResult %v", res["MessageResult"])
				}
			}},
		{name: "location outside lost mode", platform: ios, supervised: true, cmd: map[string]any{"RequestType": "DeviceLocation"}, status: "Error",
			domain: "MCMDMErrorDomain", code: 12067},
		{name: "location in lost mode", platform: ios, supervised: true, before: []map[string]any{lost}, cmd: map[string]any{"RequestType": "DeviceLocation"},
			status: "Acknowledged", keys: []string{"Altitude", "Course", "HorizontalAccuracy", "Latitude", "Longitude", "Speed", "Timestamp", "VerticalAccuracy"},
			check: func(t *testing.T, _ *Device, res map[string]any) {
				lat, _ := res["Latitude"].(float64)
				lon, _ := res["Longitude"].(float64)
				if lat < -90 || lat > 90 || lon < -180 || lon > 180 || lat == 0 {
					t.Errorf("location %v, %v", lat, lon)
				}
				if _, err := time.Parse(time.RFC3339, res["Timestamp"].(string)); err != nil {
					t.Errorf("Timestamp: %v", err)
				}
			}},
		{name: "disable lost mode", platform: ipad, supervised: true, before: []map[string]any{lost}, cmd: map[string]any{"RequestType": "DisableLostMode"}, status: "Acknowledged",
			check: func(t *testing.T, d *Device, _ map[string]any) {
				if d.LostMode() {
					t.Error("the device is still in lost mode")
				}
			}},
		{name: "disable lost mode when not lost", platform: ios, supervised: true, cmd: map[string]any{"RequestType": "DisableLostMode"}, status: "Error", domain: "MCMDMErrorDomain", code: 12067},
		{name: "lost mode on a Mac", platform: mac, supervised: true, cmd: lost, status: "Error", domain: "MCMDMErrorDomain", code: 12021},
		{name: "erase Mac without PIN", platform: mac, cmd: map[string]any{"RequestType": "EraseDevice"}, status: "Error", domain: "MDMClientError", code: 97},
		{name: "remove an unknown profile", platform: ios, cmd: map[string]any{"RequestType": "RemoveProfile", "Identifier": "com.example.other"}, status: "Error",
			domain: "MCMDMErrorDomain", code: 12013, shape: "RemoveProfile.Error-not-managed.iOS11.3.1.plist",
			check: func(t *testing.T, _ *Device, res map[string]any) {
				if _, _, desc := errorOf(res); desc != "The profile “com.example.other” is not managed by MDM." {
					t.Errorf("description %q", desc)
				}
			}},
		{name: "remove without identifier on a Mac", platform: mac, cmd: map[string]any{"RequestType": "RemoveProfile"}, status: "Error", domain: "MDMClientError", code: 97},
		{name: "remove without identifier on an iPhone", platform: ios, cmd: map[string]any{"RequestType": "RemoveProfile"}, status: "CommandFormatError"},
		{name: "unknown command on an iPhone", platform: ios, cmd: map[string]any{"RequestType": "ShutDownDevice"}, status: "Error",
			domain: "MCMDMErrorDomain", code: 12021, shape: "Error.invalid-request-type.plist",
			check: func(t *testing.T, _ *Device, res map[string]any) {
				if _, _, desc := errorOf(res); desc != "“ShutDownDevice” is not a valid request type." {
					t.Errorf("description %q", desc)
				}
			}},
		{name: "unknown command on a Mac", platform: mac, cmd: map[string]any{"RequestType": "ShutDownDevice"}, status: "Error",
			domain: "MCMDMErrorDomain", code: 12021, shape: "Error.unknown-command.macOS10.13.6.plist"},
		{name: "security info iOS", platform: ios, cmd: map[string]any{"RequestType": "SecurityInfo"}, status: "Acknowledged", keys: []string{"SecurityInfo"},
			check: func(t *testing.T, _ *Device, res map[string]any) {
				sameShape(t, "SecurityInfo", res, "SecurityInfo.iOS.plist")
			}},
		{name: "security info Mac", platform: mac, cmd: map[string]any{"RequestType": "SecurityInfo"}, status: "Acknowledged", keys: []string{"SecurityInfo"},
			check: func(t *testing.T, _ *Device, res map[string]any) {
				sameShape(t, "SecurityInfo", res, "SecurityInfo.VirtualMac-macOS13.plist")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := enrolled(t, tt.platform, Config{Supervised: tt.supervised})
			for _, b := range tt.before {
				if b["RequestType"] == "ClearPasscode" {
					b = map[string]any{"RequestType": "ClearPasscode", "UnlockToken": d.UnlockToken()}
				}
				if res := exchange(t, s, d, b); res["Status"] != "Acknowledged" {
					t.Fatalf("%v answered %v", b, res)
				}
			}
			res := exchange(t, s, d, tt.cmd)
			if res["Status"] != tt.status {
				t.Fatalf("Status %v, want %s (%v)", res["Status"], tt.status, res)
			}
			var extra []string
			for _, k := range keysOf(res) {
				if !slices.Contains([]string{"CommandUUID", "UDID", "Status", "ErrorChain"}, k) {
					extra = append(extra, k)
				}
			}
			if !slices.Equal(extra, tt.keys) {
				t.Errorf("response keys %v, want %v", extra, tt.keys)
			}
			if tt.status == "Error" {
				domain, code, _ := errorOf(res)
				if domain != tt.domain || code != tt.code {
					t.Errorf("error %s %d, want %s %d", domain, code, tt.domain, tt.code)
				}
			}
			if tt.shape != "" {
				want := capture(t, tt.shape)
				if !slices.Equal(keysOf(res), keysOf(want)) {
					t.Errorf("result keys %v; %s has %v", keysOf(res), tt.shape, keysOf(want))
				}
				if tt.status == "Error" {
					got, wantEntry := res["ErrorChain"].([]any)[0].(map[string]any), want["ErrorChain"].([]any)[0].(map[string]any)
					if !slices.Equal(keysOf(got), keysOf(wantEntry)) {
						t.Errorf("ErrorChain keys %v; %s has %v", keysOf(got), tt.shape, keysOf(wantEntry))
					}
				}
			}
			if tt.check != nil {
				tt.check(t, d, res)
			}
			if got := d.Received(); got[len(got)-1].RequestType != tt.cmd["RequestType"] || got[len(got)-1].Status != tt.status {
				t.Errorf("recorded %+v", got[len(got)-1])
			}
		})
	}
}

func TestClearPasscode(t *testing.T) {
	s, d := enrolled(t, portico.PlatformIOS, Config{})
	res := exchange(t, s, d, map[string]any{"RequestType": "ClearPasscode", "UnlockToken": d.UnlockToken()})
	if res["Status"] != "Acknowledged" {
		t.Fatalf("ClearPasscode with the device's token: %v", res)
	}
	res = exchange(t, s, d, map[string]any{"RequestType": "SecurityInfo"})
	if res["SecurityInfo"].(map[string]any)["PasscodePresent"] != false {
		t.Error("SecurityInfo still reports a passcode")
	}
}

func TestDeviceInformation(t *testing.T) {
	queries := []any{"UDID", "DeviceName", "OSVersion", "BuildVersion", "ModelName", "Model", "ProductName", "SerialNumber",
		"IsSupervised", "IMEI", "MEID", "PhoneNumber", "ICCID", "CurrentCarrierNetwork", "SubscriberCarrierNetwork",
		"ServiceSubscriptions", "HostName", "PINRequiredForDeviceLock", "IsMDMLostModeEnabled", "NoSuchQuery"}
	common := []string{"BuildVersion", "DeviceName", "IsSupervised", "Model", "ModelName", "OSVersion", "ProductName", "SerialNumber", "UDID"}
	want := map[portico.Platform][]string{
		portico.PlatformIOS: append(slices.Clone(common), "CurrentCarrierNetwork", "ICCID", "IMEI", "IsMDMLostModeEnabled", "MEID", "PhoneNumber",
			"ServiceSubscriptions", "SubscriberCarrierNetwork"),
		portico.PlatformIPadOS: append(slices.Clone(common), "IsMDMLostModeEnabled"),
		portico.PlatformMacOS:  append(slices.Clone(common), "HostName", "PINRequiredForDeviceLock"),
	}
	for _, p := range platforms {
		t.Run(string(p), func(t *testing.T) {
			s, d := enrolled(t, p, Config{})
			res := exchange(t, s, d, map[string]any{"RequestType": "DeviceInformation", "Queries": queries})
			answers := res["QueryResponses"].(map[string]any)
			w := slices.Sorted(slices.Values(want[p]))
			if !slices.Equal(keysOf(answers), w) {
				t.Errorf("answered %v, want %v", keysOf(answers), w)
			}
			m := d.Model()
			if answers["UDID"] != m.UDID || answers["SerialNumber"] != m.SerialNumber || answers["ProductName"] != m.ProductName || answers["IsSupervised"] != false {
				t.Errorf("answers %v are not the model %+v", answers, m)
			}
			// The captures of each platform agree on the types.
			shape := map[portico.Platform]string{
				portico.PlatformIOS: "DeviceInformation.iPad-iOS11.3.1.plist", portico.PlatformIPadOS: "DeviceInformation.iPad-iOS11.3.1.plist",
				portico.PlatformMacOS: "DeviceInformation.VirtualMac-macOS13.0beta.plist",
			}[p]
			for k, v := range capture(t, shape)["QueryResponses"].(map[string]any) {
				if got, ok := answers[k]; ok && (k != "Model" || p != portico.PlatformMacOS) && typeName(got) != typeName(v) {
					t.Errorf("%s is a %s; the capture's a %s", k, typeName(got), typeName(v))
				}
			}
			if p == portico.PlatformIOS {
				subs := answers["ServiceSubscriptions"].([]any)[0].(map[string]any)
				if subs["PhoneNumber"] != m.SIM.PhoneNumber || subs["ICCID"] != m.SIM.ICCID || subs["IMEI"] != answers["IMEI"] {
					t.Errorf("ServiceSubscriptions %v", subs)
				}
			}
		})
	}
	s, d := enrolled(t, portico.PlatformIOS, Config{})
	if res := exchange(t, s, d, map[string]any{"RequestType": "DeviceInformation"}); res["Status"] != "CommandFormatError" {
		t.Errorf("DeviceInformation without Queries: %v", res["Status"])
	}
}

// typeName is a property list type's name.
func typeName(v any) string {
	switch v.(type) {
	case float64, float32:
		return "real"
	case uint64, int64, int:
		return "integer"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []byte:
		return "data"
	case []any:
		return "array"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// profileBytes is a small profile: a web clip and, when given, a PKCS#12
// payload.
func profileBytes(t *testing.T, identifier string, extra ...map[string]any) []byte {
	t.Helper()
	content := []any{webClip("clip-"+identifier, "Intranet")}
	for _, e := range extra {
		content = append(content, e)
	}
	b, err := plist.Marshal(map[string]any{
		"PayloadType": "Configuration", "PayloadIdentifier": identifier, "PayloadUUID": "uuid-" + identifier,
		"PayloadVersion": 1, "PayloadDisplayName": "Intranet", "PayloadContent": content,
	}, plist.XMLFormat)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProfilesInstallListRemove(t *testing.T) {
	for _, p := range platforms {
		t.Run(string(p), func(t *testing.T) {
			s, d := enrolled(t, p, Config{})
			if res := exchange(t, s, d, map[string]any{"RequestType": "InstallProfile", "Payload": applesimtest.Signed(t, profileBytes(t, "com.example.intranet"))}); res["Status"] != "Acknowledged" {
				t.Fatalf("InstallProfile: %v", res)
			}
			if got := d.Installed(); !slices.Equal(got, []string{"com.example.intranet"}) {
				t.Fatalf("installed %v", got)
			}
			res := exchange(t, s, d, map[string]any{"RequestType": "ProfileList"})
			list := res["ProfileList"].([]any)
			if len(list) != 2 {
				t.Fatalf("ProfileList has %d profiles, want the enrollment profile and the installed one", len(list))
			}
			enrollment, installed := list[0].(map[string]any), list[1].(map[string]any)
			if enrollment["PayloadIdentifier"] != "test.portico.enroll" || installed["PayloadIdentifier"] != "com.example.intranet" {
				t.Errorf("ProfileList %v", list)
			}
			if len(installed["SignerCertificates"].([]any)) != 1 || len(installed["PayloadContent"].([]any)) != 1 {
				t.Errorf("installed profile %v", installed)
			}
			shape := "ProfileList.macOS.plist"
			if p != portico.PlatformMacOS {
				shape = "ProfileList.iOS11.3.1.plist"
				if enrollment["IsManaged"] != false || installed["IsManaged"] != true {
					t.Errorf("IsManaged %v %v: the user installed the enrollment profile, MDM the other", enrollment["IsManaged"], installed["IsManaged"])
				}
			}
			wantItem := capture(t, shape)["ProfileList"].([]any)[0].(map[string]any)
			for _, k := range keysOf(wantItem) {
				if _, ok := enrollment[k]; !ok && k != "PayloadDescription" {
					t.Errorf("the enrollment profile's item lacks %s, which %s has", k, shape)
				}
			}
			res = exchange(t, s, d, map[string]any{"RequestType": "ProfileList", "ManagedOnly": true})
			if list := res["ProfileList"].([]any); len(list) != 1 {
				t.Errorf("ManagedOnly lists %d profiles", len(list))
			}
			if res := exchange(t, s, d, map[string]any{"RequestType": "RemoveProfile", "Identifier": "com.example.intranet"}); res["Status"] != "Acknowledged" {
				t.Fatalf("RemoveProfile: %v", res)
			}
			if got := d.Installed(); len(got) != 0 {
				t.Errorf("still installed: %v", got)
			}
		})
	}
}

func TestInstallProfileRefusals(t *testing.T) {
	s, d := enrolled(t, portico.PlatformIOS, Config{})
	p12 := map[string]any{"PayloadType": "com.apple.security.pkcs12", "PayloadIdentifier": "p12", "PayloadUUID": "p12-uuid",
		"PayloadVersion": 1, "PayloadContent": []byte("not a PKCS#12"), "Password": "x"}
	mail := map[string]any{"PayloadType": "com.apple.mail.managed", "PayloadIdentifier": "mail", "PayloadUUID": "mail-uuid",
		"PayloadVersion": 1, "SMIMESigningCertificateUUID": "missing-uuid"}
	tests := []struct {
		name   string
		cmd    map[string]any
		status string
		domain string
		code   uint64
	}{
		{"no payload", map[string]any{"RequestType": "InstallProfile"}, "CommandFormatError", "", 0},
		{"not a profile", map[string]any{"RequestType": "InstallProfile", "Payload": []byte("junk")}, "Error", "MCProfileErrorDomain", 1000},
		{"PKCS#12 that does not open", map[string]any{"RequestType": "InstallProfile", "Payload": profileBytes(t, "a", p12)}, "Error", "MCCertificateErrorDomain", 9000},
		{"S/MIME identity not in the profile", map[string]any{"RequestType": "InstallProfile", "Payload": profileBytes(t, "b", mail)}, "Error", "MCEmailErrorDomain", 7003},
	}
	for _, tt := range tests {
		res := exchange(t, s, d, tt.cmd)
		domain, code, _ := errorOf(res)
		if res["Status"] != tt.status || domain != tt.domain || code != tt.code {
			t.Errorf("%s: %v %s %d, want %s %s %d", tt.name, res["Status"], domain, code, tt.status, tt.domain, tt.code)
		}
	}
	if len(d.Installed()) != 0 {
		t.Errorf("refused profiles were installed: %v", d.Installed())
	}
}

func TestEncryptedProfileOpensWithTheIdentity(t *testing.T) {
	s, d := enrolled(t, portico.PlatformMacOS, Config{})
	payloads, _ := plist.Marshal([]any{webClip("secret-clip", "Secret")}, plist.XMLFormat)
	env, err := pkcs7.Encrypt(payloads, []*x509.Certificate{d.Identity()})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := plist.Marshal(map[string]any{
		"PayloadType": "Configuration", "PayloadIdentifier": "com.example.secret", "PayloadUUID": "secret-uuid",
		"PayloadVersion": 1, "EncryptedPayloadContent": env,
	}, plist.XMLFormat)
	if res := exchange(t, s, d, map[string]any{"RequestType": "InstallProfile", "Payload": body}); res["Status"] != "Acknowledged" {
		t.Fatalf("InstallProfile of an encrypted profile: %v", res)
	}
	res := exchange(t, s, d, map[string]any{"RequestType": "ProfileList", "ManagedOnly": true})
	item := res["ProfileList"].([]any)[0].(map[string]any)
	if item["IsEncrypted"] != true || item["PayloadContent"] != nil {
		t.Errorf("encrypted profile listed as %v", item)
	}
}

func TestNotNowThenResent(t *testing.T) {
	s, d := enrolled(t, portico.PlatformIOS, Config{})
	d.AnswerNotNow(1)
	cmd := map[string]any{"RequestType": "SecurityInfo"}
	res := exchange(t, s, d, cmd)
	if res["Status"] != "NotNow" {
		t.Fatalf("Status %v, want NotNow", res["Status"])
	}
	sameShape(t, "NotNow", res, "NotNow.iOS11.3.1.plist")
	if res := exchange(t, s, d, cmd); res["Status"] != "Acknowledged" {
		t.Errorf("the resent command: %v", res["Status"])
	}
}

func TestMalformedCommand(t *testing.T) {
	s, d := enrolled(t, portico.PlatformIOS, Config{})
	s.SendRaw([]byte(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>CommandUUID</key><string>c-1</string><key>Command</key><dict/></dict></plist>`))
	if _, err := d.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := s.LastResult()
	if res["Status"] != "CommandFormatError" || res["CommandUUID"] != "c-1" {
		t.Errorf("%v", res)
	}
	sameShape(t, "CommandFormatError", res, "CommandFormatError.iOS11.3.1.plist")
}

func TestRemovingTheEnrollmentProfile(t *testing.T) {
	tests := []struct {
		name     string
		platform portico.Platform
		checkOut bool
		capture  string
		byUser   bool
	}{
		{"by MDM, iPhone", portico.PlatformIOS, true, "CheckOut.iOS11.3.1.plist", false},
		{"by MDM, Mac", portico.PlatformMacOS, true, "CheckOut.macOS10.11.plist", false},
		{"by the user", portico.PlatformIPadOS, true, "CheckOut.iOS11.3.1.plist", true},
		{"without CheckOutWhenRemoved", portico.PlatformIOS, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := applesimtest.New(t)
			d := newDevice(t, tt.platform, Config{})
			if err := d.Install(context.Background(), s.EnrollmentProfile(t, applesimtest.ProfileOptions{CheckOutOff: !tt.checkOut}), nil); err != nil {
				t.Fatal(err)
			}
			if tt.byUser {
				if err := d.Unenroll(context.Background()); err != nil {
					t.Fatal(err)
				}
			} else if res := exchange(t, s, d, map[string]any{"RequestType": "RemoveProfile", "Identifier": "test.portico.enroll"}); res["Status"] != "Acknowledged" {
				t.Fatalf("RemoveProfile: %v", res)
			}
			if tt.checkOut {
				if len(s.Checkins) != 3 {
					t.Fatalf("%d check-ins, want CheckOut after Authenticate and TokenUpdate", len(s.Checkins))
				}
				co := s.Checkins[2]
				sameShape(t, "CheckOut", co, tt.capture)
				if co["MessageType"] != "CheckOut" || co["UDID"] != d.UDID() {
					t.Errorf("CheckOut %v", co)
				}
			} else if len(s.Checkins) != 2 {
				t.Errorf("%d check-ins: CheckOut went without CheckOutWhenRemoved", len(s.Checkins))
			}
			if d.Gone() != "unenrolled" {
				t.Errorf("Gone() = %q", d.Gone())
			}
			if _, err := d.Poll(context.Background()); err == nil {
				t.Error("an unenrolled device polled")
			}
		})
	}
}

func TestEraseAcknowledgesOnceThenStops(t *testing.T) {
	for _, tt := range []struct {
		platform portico.Platform
		cmd      map[string]any
	}{
		{portico.PlatformIOS, map[string]any{"RequestType": "EraseDevice", "PreserveDataPlan": true}},
		{portico.PlatformMacOS, map[string]any{"RequestType": "EraseDevice", "PIN": "654321"}},
	} {
		s, d := enrolled(t, tt.platform, Config{})
		// The server's next command is never run.
		s.Send(tt.cmd, map[string]any{"RequestType": "SecurityInfo"})
		if _, err := d.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if res := s.LastResult(); res["Status"] != "Acknowledged" || len(s.Results) != 1 {
			t.Fatalf("%s: EraseDevice: %v, %d results", tt.platform, res, len(s.Results))
		}
		if d.Gone() != "erased" || len(d.Received()) != 1 {
			t.Errorf("%s: Gone %q after %d commands", tt.platform, d.Gone(), len(d.Received()))
		}
		if _, err := d.Poll(context.Background()); err == nil {
			t.Errorf("%s: an erased device polled", tt.platform)
		}
	}
}

func TestServerRefusals(t *testing.T) {
	t.Run("401 unenrolls", func(t *testing.T) {
		s, d := enrolled(t, portico.PlatformIOS, Config{})
		s.ConnectStatus = 401
		var se *StatusError
		if _, err := d.Poll(context.Background()); !errors.As(err, &se) || se.Status != 401 {
			t.Fatalf("Poll: %v", err)
		}
		if d.Gone() == "" {
			t.Error("the device stays enrolled after a 401")
		}
	})
	t.Run("a result the server refuses is sent again", func(t *testing.T) {
		s, d := enrolled(t, portico.PlatformIOS, Config{})
		id := s.Send(map[string]any{"RequestType": "SecurityInfo"})[0]
		s.FailResults = 1
		if _, err := d.Poll(context.Background()); err == nil {
			t.Fatal("Poll did not report the refused result")
		}
		if _, err := d.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if res := s.LastResult(); res["CommandUUID"] != id || res["Status"] != "Acknowledged" {
			t.Errorf("the kept result: %v", res)
		}
		if n := len(d.Received()); n != 1 {
			t.Errorf("the device ran the command %d times", n)
		}
	})
}

// lockedBuffer is a buffer that Run's goroutine may write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestWakeMakesTheDevicePoll(t *testing.T) {
	var out lockedBuffer
	s, d := enrolled(t, portico.PlatformIOS, Config{Out: &out})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx, 0) }()
	id := s.Send(map[string]any{"RequestType": "DeviceInformation", "Queries": []any{"UDID"}})[0]
	d.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for len(d.Received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(d.Received()) != 1 {
		t.Fatal("the woken device did not poll")
	}
	r := d.Received()[0]
	if r.RequestType != "DeviceInformation" || !slices.Equal(r.Keys(), []string{"Queries"}) || r.At.IsZero() {
		t.Errorf("recorded %+v", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if line := d.Model().DeviceName + " (iPhone15,2 " + d.UDID() + "): DeviceInformation " + id + ": Acknowledged.\n"; !strings.Contains(out.String(), line) {
		t.Errorf("the device said %q, not %q", out.String(), line)
	}
}
