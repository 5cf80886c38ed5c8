package portico

import "testing"

func TestParseNetworks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "", want: nil},
		{in: " \n, ", want: nil},
		{in: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}}, // host bits dropped
		{in: "192.0.2.1, 2001:db8::/32\r\n198.51.100.0/24", want: []string{"192.0.2.1/32", "2001:db8::/32", "198.51.100.0/24"}},
		{in: "::ffff:10.0.0.1", want: []string{"10.0.0.1/32"}},
		{in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{in: "2001:db8::1", want: []string{"2001:db8::1/128"}},
		{in: "10.0.0.0/33", bad: true},
		{in: "example.com", bad: true},
		{in: "10.0.0.0/8;192.0.2.0/24", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "10.0.0.0 /8", bad: true},
	} {
		got, err := ParseNetworks(tc.in)
		if tc.bad {
			if ErrorCode(err) != EINVALID {
				t.Errorf("ParseNetworks(%q) = %v, %v; want EINVALID", tc.in, got, err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("ParseNetworks(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i].String() != tc.want[i] {
				t.Errorf("ParseNetworks(%q)[%d] = %v, want %v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func TestNetworksAdmits(t *testing.T) {
	list, err := ParseNetworks("10.0.0.0/8, 192.0.2.7, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		list   Networks
		source string
		want   bool
	}{
		{nil, "203.0.113.1", true},
		{nil, "", true}, // no list: even an unknown source
		{list, "10.255.0.1", true},
		{list, "11.0.0.1", false},
		{list, "192.0.2.7", true},
		{list, "192.0.2.8", false},
		{list, "::ffff:10.0.0.1", true}, // IPv4 seen on an IPv6 socket
		{list, "2001:db8:1::5", true},
		{list, "2001:db9::5", false},
		{list, "", false},
		{list, "@", false}, // a Unix socket's peer
		{list, "10.0.0.1:443", false},
	} {
		if got := tc.list.Admits(tc.source); got != tc.want {
			t.Errorf("%v admits %q = %v, want %v", tc.list, tc.source, got, tc.want)
		}
	}
}

func TestNetworkSettingsChecked(t *testing.T) {
	for _, door := range []Door{DoorPortal, DoorAdmin, DoorAdminAPI} {
		s, err := LookupSetting(door.NetworksSetting())
		if err != nil {
			t.Fatal(err)
		}
		if s.Check("10.0.0.0/8\n192.0.2.1") != nil || ErrorCode(s.Check("10.0.0.300/8")) != EINVALID {
			t.Errorf("%s is not checked as a list of networks", s.Key)
		}
	}
}

func TestWindowsAgentURLChecked(t *testing.T) {
	s, err := LookupSetting("registration.windows_agent_url")
	if err != nil {
		t.Fatal(err)
	}
	for v, ok := range map[string]bool{"": true, "https://downloads.example/agent.msi": true, "http://downloads.example/agent.msi": false, "ftp://x/y": false} {
		if err := s.Check(v); (err == nil) != ok {
			t.Errorf("Check(%q) = %v", v, err)
		}
	}
}
