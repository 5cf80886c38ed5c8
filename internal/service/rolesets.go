package service

import (
	"context"
	"fmt"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// RoleSets lists every role set with its roles and count of members
// (admins only).
func (s *Service) RoleSets(ctx context.Context) ([]*portico.RoleSet, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.ListRoleSets(ctx)
}

// RoleSet returns one role set (admins only).
func (s *Service) RoleSet(ctx context.Context, id int64) (*portico.RoleSet, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.RoleSetByID(ctx, id)
}

// UserRoleSets lists the role sets a user is in (admins only).
func (s *Service) UserRoleSets(ctx context.Context, userID int64) ([]*portico.RoleSet, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.UserRoleSets(ctx, userID)
}

// CreateRoleSet creates a named set of portal roles (admins only).
func (s *Service) CreateRoleSet(ctx context.Context, name string, roles []portico.Role) (*portico.RoleSet, error) {
	action := portico.AuditEntry{Action: "roleset.create", Target: name}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	set := &portico.RoleSet{Name: name, Roles: roles, CreatedAt: s.clock.Now()}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(st store.Store) error {
		if err := st.CreateRoleSet(ctx, set); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: action.Action, Target: set.Name, Detail: "roles=" + joinRoles(set.Roles)})
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

// UpdateRoleSet renames a role set and replaces its roles (admins only);
// its members have the new roles at once.
func (s *Service) UpdateRoleSet(ctx context.Context, id int64, name string, roles []portico.Role) (*portico.RoleSet, error) {
	action := portico.AuditEntry{Action: "roleset.update", Target: fmt.Sprint(id)}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	next := &portico.RoleSet{ID: id, Name: name, Roles: roles}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(st store.Store) error {
		old, err := st.RoleSetByID(ctx, id)
		if err != nil {
			return err
		}
		next.CreatedAt, next.Members = old.CreatedAt, old.Members
		if err := st.UpdateRoleSet(ctx, next); err != nil {
			return err
		}
		detail := "roles " + joinRoles(old.Roles) + " → " + joinRoles(next.Roles)
		if old.Name != next.Name {
			detail = fmt.Sprintf("name %q → %q; %s", old.Name, next.Name, detail)
		}
		if err := s.audit(ctx, st, portico.AuditEntry{Action: action.Action, Target: old.Name, Detail: detail}); err != nil {
			return err
		}
		if !lostPINRole(old, next) {
			return nil
		}
		members, err := st.RoleSetMembers(ctx, id)
		if err != nil {
			return err
		}
		return s.membersChanged(ctx, st, members)
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

// lostPINRole says whether members of a set lose what its role to reset
// secure apps passcodes gave them (a one-time PIN) when the set changes
// from old to next, nil for deleted.
func lostPINRole(old, next *portico.RoleSet) bool {
	return old.HasRole(portico.RoleResetSecureAppsPasscode) && (next == nil || !next.HasRole(portico.RoleResetSecureAppsPasscode))
}

// membersChanged applies to each member what the change of their roles
// ends.
func (s *Service) membersChanged(ctx context.Context, st store.Store, members []int64) error {
	for _, id := range members {
		if _, err := s.rolesChanged(ctx, st, id); err != nil {
			return err
		}
	}
	return nil
}

// DeleteRoleSet deletes a role set (admins only); its members lose its
// roles at once, but keep their own.
func (s *Service) DeleteRoleSet(ctx context.Context, id int64) error {
	action := portico.AuditEntry{Action: "roleset.delete", Target: fmt.Sprint(id)}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return err
	}
	return s.store.InTx(ctx, func(st store.Store) error {
		old, err := st.RoleSetByID(ctx, id)
		if err != nil {
			return err
		}
		var members []int64
		if lostPINRole(old, nil) {
			if members, err = st.RoleSetMembers(ctx, id); err != nil {
				return err
			}
		}
		if err := st.DeleteRoleSet(ctx, id); err != nil {
			return err
		}
		if err := s.membersChanged(ctx, st, members); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: action.Action, Target: old.Name,
			Detail: fmt.Sprintf("roles=%s; %d members", joinRoles(old.Roles), old.Members)})
	})
}

// AssignRoleSet puts the selected users in the role set (admins only), all
// or none.
func (s *Service) AssignRoleSet(ctx context.Context, setID int64, userIDs []int64) (*portico.RoleSet, error) {
	return s.changeMembers(ctx, true, setID, userIDs)
}

// UnassignRoleSet takes the selected users out of the role set (admins
// only), all or none; they lose the set's roles at once.
func (s *Service) UnassignRoleSet(ctx context.Context, setID int64, userIDs []int64) (*portico.RoleSet, error) {
	return s.changeMembers(ctx, false, setID, userIDs)
}

// changeMembers puts the users in the set, or takes them out of it.
func (s *Service) changeMembers(ctx context.Context, assign bool, setID int64, userIDs []int64) (*portico.RoleSet, error) {
	what := "roleset.unassign"
	if assign {
		what = "roleset.assign"
	}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: what, Target: fmt.Sprint(setID)}, err)
		return nil, err
	}
	ids, err := checkSelection(userIDs)
	if err != nil {
		return nil, err
	}
	var set *portico.RoleSet
	err = s.store.InTx(ctx, func(st store.Store) error {
		var err error
		if set, err = st.RoleSetByID(ctx, setID); err != nil {
			return err
		}
		users := make([]*portico.User, len(ids))
		for i, id := range ids {
			if users[i], err = st.UserByID(ctx, id); err != nil {
				return err
			}
		}
		if assign {
			err = st.AddToRoleSet(ctx, setID, ids)
		} else {
			err = st.RemoveFromRoleSet(ctx, setID, ids)
		}
		if err != nil {
			return err
		}
		if !assign && lostPINRole(set, nil) {
			if err := s.membersChanged(ctx, st, ids); err != nil {
				return err
			}
		}
		for _, u := range users {
			if err := s.audit(ctx, st, portico.AuditEntry{Action: what, Target: u.Username, Detail: "role set " + set.Name}); err != nil {
				return err
			}
		}
		set, err = st.RoleSetByID(ctx, setID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}
