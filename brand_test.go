package portico

import "testing"

func TestBrandColours(t *testing.T) {
	tests := []struct {
		stored, color, darker, on string
	}{
		{"", DefaultBrandColor, "#17478f", "#ffffff"},
		{"#FFFFFF", "#ffffff", "#bfbfbf", "#1d2430"},
		{"#000000", "#000000", "#000000", "#ffffff"},
		{"#f0c000", "#f0c000", "#b49000", "#1d2430"},
		// A value stored before the check existed never reaches a page.
		{"red;}", DefaultBrandColor, "#17478f", "#ffffff"},
	}
	for _, tt := range tests {
		v := SettingValues{}
		if tt.stored != "" {
			v["branding.color"] = tt.stored
		}
		b := v.Brand(nil)
		if b.Color != tt.color || b.Darker() != tt.darker || b.OnColor() != tt.on {
			t.Errorf("%q: colour %s, darker %s, on %s; want %s, %s, %s", tt.stored, b.Color, b.Darker(), b.OnColor(), tt.color, tt.darker, tt.on)
		}
	}
}

func TestMailFromName(t *testing.T) {
	tests := []struct {
		values SettingValues
		want   string
	}{
		{SettingValues{}, DefaultPortalName},
		{SettingValues{"branding.name": "ACME Devices"}, "ACME Devices"},
		{SettingValues{"branding.name": "ACME Devices", "mail.from_name": "IT"}, "IT"},
		{SettingValues{"branding.name": "ACME Devices", "mail.from_name": ""}, "ACME Devices"},
	}
	for _, tt := range tests {
		if got := tt.values.MailFromName(); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.values, got, tt.want)
		}
		// The settings page shows what mail goes out under.
		if _, set := tt.values["mail.from_name"]; !set && tt.values.Get("mail.from_name") != tt.want {
			t.Errorf("%v: the sender name setting reads %q, want %q", tt.values, tt.values.Get("mail.from_name"), tt.want)
		}
	}
}
