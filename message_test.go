package portico_test

import (
	"testing"

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
