package portico

import (
	"net/netip"
	"strings"
)

// Door is a way into Portico that an admin may open to some networks only
// (SPEC LOGIN-3).
type Door string

const (
	DoorPortal   Door = "portal"
	DoorAdmin    Door = "admin"
	DoorAdminAPI Door = "api"
	// DoorSignIn is the pages both portals share (signing in and out,
	// setting up a second factor, choosing a password): what either
	// portal's list admits, so
	// that an admin kept out of the user portal can still reach the admin
	// portal.
	DoorSignIn Door = "sign-in"
)

// NetworksSettings are the settings that list the networks a door admits;
// the door admits an address that any of them admits.
func (d Door) NetworksSettings() []string {
	if d == DoorSignIn {
		return []string{DoorPortal.NetworksSetting(), DoorAdmin.NetworksSetting()}
	}
	return []string{d.NetworksSetting()}
}

// NetworksSetting is the setting that lists the networks a door of its
// own admits.
func (d Door) NetworksSetting() string { return "access." + string(d) + "_networks" }

// Networks is an allow-list of source networks; an empty one admits every
// address.
type Networks []netip.Prefix

// ParseNetworks parses CIDRs and single addresses, separated by commas,
// spaces or new lines.
func ParseNetworks(s string) (Networks, error) {
	var out Networks
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil || a.Zone() != "" {
				return nil, Errorf(EINVALID, "%q is not a network (like 192.0.2.0/24) or an address.", f)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, Errorf(EINVALID, "%q is not a network (like 192.0.2.0/24) or an address.", f)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Admits reports whether the list lets the source address in: an empty
// list admits everyone, a source that is not an address nobody.
func (n Networks) Admits(source string) bool {
	if len(n) == 0 {
		return true
	}
	a, err := netip.ParseAddr(source)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range n {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func networks(s string) error {
	if len(s) > 10000 {
		return Errorf(EINVALID, "The list is longer than 10000 characters.")
	}
	_, err := ParseNetworks(s)
	return err
}
