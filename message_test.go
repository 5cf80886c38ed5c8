package portico_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
)

func TestHasGateway(t *testing.T) {
	tests := []struct {
		v    portico.SettingValues
		ch   portico.Channel
		want bool
	}{
		{portico.SettingValues{}, portico.ChannelMail, false},
		{portico.SettingValues{}, portico.ChannelSMS, false},
		{portico.SettingValues{"mail.host": "smtp.example.com"}, portico.ChannelMail, true},
		{portico.SettingValues{"mail.host": "smtp.example.com"}, portico.ChannelSMS, false},
		{portico.SettingValues{"sms.url": "https://sms.example.com/"}, portico.ChannelSMS, true},
		{portico.SettingValues{"sms.url": "https://sms.example.com/"}, "pigeon", false},
	}
	for _, tt := range tests {
		if got := tt.v.HasGateway(tt.ch); got != tt.want {
			t.Errorf("%v.HasGateway(%s) = %t, want %t", tt.v, tt.ch, got, tt.want)
		}
	}
}

func TestPushMessage(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	p := portico.Push{DeviceID: 4, Token: []byte{0x00, 0xff, 0x10}, PushMagic: "A1B2", Topic: "com.apple.mgmt.External.x"}
	m := p.Message(now)
	if m.Channel != portico.ChannelAPNs || m.To != "00ff10" || m.Subject != p.Topic || m.Text != "A1B2" || m.DeviceID != 4 {
		t.Fatalf("Message = %+v", m)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	back, err := portico.PushOf(m)
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("PushOf = %+v, %v; want %+v", back, err, p)
	}
	tests := []struct {
		name string
		edit func(*portico.Message)
	}{
		{"no device", func(m *portico.Message) { m.DeviceID = 0 }},
		{"token of odd length", func(m *portico.Message) { m.To = "abc" }},
		{"token too long", func(m *portico.Message) { m.To = strings.Repeat("ab", 101) }},
		{"topic of an app", func(m *portico.Message) { m.Subject = "com.example.app" }},
		{"bare prefix", func(m *portico.Message) { m.Subject = portico.PushTopicPrefix }},
		{"no push magic", func(m *portico.Message) { m.Text = "" }},
		{"no time", func(m *portico.Message) { m.CreatedAt = time.Time{} }},
		{"mail naming a device", func(m *portico.Message) {
			*m = portico.Message{Channel: portico.ChannelMail, To: "a@example.com", Text: "hi", DeviceID: 4, CreatedAt: now}
		}},
	}
	for _, tt := range tests {
		m := p.Message(now)
		tt.edit(m)
		if err := m.Validate(); portico.ErrorCode(err) != portico.EINVALID {
			t.Errorf("%s: Validate = %v, want EINVALID", tt.name, err)
		}
	}
	if _, err := portico.PushOf(&portico.Message{Channel: portico.ChannelMail}); err == nil {
		t.Error("PushOf read a push from a mail")
	}
}
