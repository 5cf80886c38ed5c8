package service

import (
	"context"

	"github.com/portico-mdm/portico"
)

var errNetworkRefused = portico.Errorf(portico.EFORBIDDEN, "Access from your network is not allowed")

// CheckNetwork refuses a request to the door from a source address the
// door's allow-list leaves out. The settings are read on every call, so a
// change applies at once on every instance.
func (s *Service) CheckNetwork(ctx context.Context, door portico.Door, source string) error {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return err
	}
	for _, key := range door.NetworksSettings() {
		allowed, err := portico.ParseNetworks(v.Get(key))
		if err != nil {
			// Values are checked when stored; one that no longer parses
			// must not open the door.
			return err
		}
		if allowed.Admits(source) {
			return nil
		}
	}
	return errNetworkRefused
}

// checkAdminLockOut refuses an admin-portal allow-list that leaves out the
// address of the admin saving it: the next page would be refused. The
// command line, which has no address, is the way back in and is not held
// to it.
func checkAdminLockOut(ctx context.Context, values map[string]string) error {
	key := portico.DoorAdmin.NetworksSetting()
	list, ok := values[key]
	a := portico.ActorFromContext(ctx)
	if !ok || a.User == nil {
		return nil
	}
	allowed, err := portico.ParseNetworks(list)
	if err != nil {
		return err
	}
	if !allowed.Admits(a.Source) {
		return portico.Errorf(portico.EINVALID, "Admin portal: allowed networks: your own address %s is not in the list, so saving it would lock you out. Add %s (or its network) to the list.", a.Source, a.Source)
	}
	return nil
}
