package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/portico-mdm/portico"
)

const roleSetColumns = "s.id, s.name, s.created_at, (SELECT count(*) FROM user_role_sets m WHERE m.set_id = s.id)"

func scanRoleSet(sc scanner) (*portico.RoleSet, error) {
	s := &portico.RoleSet{Roles: []portico.Role{}}
	err := sc.Scan(&s.ID, &s.Name, scanTime(&s.CreatedAt), &s.Members)
	return s, err
}

func (c *conn) CreateRoleSet(ctx context.Context, s *portico.RoleSet) error {
	return c.tx(ctx, func(t *conn) error {
		err := t.writeRow(ctx, "INSERT INTO role_sets (name, created_at) VALUES (?, ?) RETURNING id", s.Name, at(s.CreatedAt)).Scan(&s.ID)
		if err != nil {
			return refused(err, "There is a role set named "+s.Name+" already.", "")
		}
		return t.insertSetRoles(ctx, s.ID, s.Roles)
	})
}

func (c *conn) insertSetRoles(ctx context.Context, setID int64, roles []portico.Role) error {
	roles = portico.NormalizeRoles(roles)
	if len(roles) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(roles))
	for _, r := range roles {
		args = append(args, setID, string(r))
	}
	_, err := c.exec(ctx, "INSERT INTO role_set_roles (set_id, role) VALUES "+rowsOf("(?, ?)", len(roles)), args...)
	return err
}

func (c *conn) UpdateRoleSet(ctx context.Context, s *portico.RoleSet) error {
	return c.tx(ctx, func(t *conn) error {
		res, err := t.exec(ctx, "UPDATE role_sets SET name = ? WHERE id = ?", s.Name, s.ID)
		if err := mustAffect(res, refused(err, "There is a role set named "+s.Name+" already.", ""), "There is no role set %d.", s.ID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM role_set_roles WHERE set_id = ?", s.ID); err != nil {
			return err
		}
		return t.insertSetRoles(ctx, s.ID, s.Roles)
	})
}

func (c *conn) DeleteRoleSet(ctx context.Context, id int64) error {
	res, err := c.exec(ctx, "DELETE FROM role_sets WHERE id = ?", id)
	return mustAffect(res, err, "There is no role set %d.", id)
}

func (c *conn) RoleSetByID(ctx context.Context, id int64) (*portico.RoleSet, error) {
	s, err := scanRoleSet(c.queryRow(ctx, "SELECT "+roleSetColumns+" FROM role_sets s WHERE s.id = ?", id))
	if err != nil {
		return nil, notFound(err, "There is no role set %d.", id)
	}
	return s, c.loadSetRoles(ctx, []*portico.RoleSet{s})
}

func (c *conn) ListRoleSets(ctx context.Context) ([]*portico.RoleSet, error) {
	sets, err := scanAll(scanRoleSet)(c.query(ctx, "SELECT "+roleSetColumns+" FROM role_sets s ORDER BY lower(s.name)"))
	if err != nil {
		return nil, err
	}
	return sets, c.loadSetRoles(ctx, sets)
}

func (c *conn) UserRoleSets(ctx context.Context, userID int64) ([]*portico.RoleSet, error) {
	sets, err := scanAll(scanRoleSet)(c.query(ctx, "SELECT "+roleSetColumns+
		" FROM role_sets s JOIN user_role_sets u ON u.set_id = s.id WHERE u.user_id = ? ORDER BY lower(s.name)", userID))
	if err != nil {
		return nil, err
	}
	return sets, c.loadSetRoles(ctx, sets)
}

// loadSetRoles fills in the sets' roles; there are few sets, so it reads
// the roles of all of them.
func (c *conn) loadSetRoles(ctx context.Context, sets []*portico.RoleSet) error {
	if len(sets) == 0 {
		return nil
	}
	byID := make(map[int64]*portico.RoleSet, len(sets))
	for _, s := range sets {
		byID[s.ID] = s
	}
	rows, err := c.query(ctx, "SELECT set_id, role FROM role_set_roles")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var r portico.Role
		if err := rows.Scan(&id, &r); err != nil {
			return err
		}
		if s := byID[id]; s != nil {
			s.Roles = append(s.Roles, r)
		}
	}
	for _, s := range sets {
		slices.Sort(s.Roles)
	}
	return rows.Err()
}

func (c *conn) AddToRoleSet(ctx context.Context, setID int64, userIDs []int64) error {
	return c.tx(ctx, func(t *conn) error {
		// Touching the set's row locks it against a deletion meanwhile, and
		// says clearly when it is gone.
		res, err := t.exec(ctx, "UPDATE role_sets SET id = id WHERE id = ?", setID)
		if err := mustAffect(res, err, "There is no role set %d.", setID); err != nil {
			return err
		}
		for batch := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(userIDs))), existingNamesBatch) {
			args := make([]any, 0, 2*len(batch))
			for _, id := range batch {
				args = append(args, id, setID)
			}
			_, err := t.exec(ctx, "INSERT INTO user_role_sets (user_id, set_id) VALUES "+rowsOf("(?, ?)", len(batch))+
				" ON CONFLICT (user_id, set_id) DO NOTHING", args...)
			if err != nil {
				return refused(err, "", "One of the users does not exist.")
			}
		}
		return nil
	})
}

func (c *conn) RemoveFromRoleSet(ctx context.Context, setID int64, userIDs []int64) error {
	return c.tx(ctx, func(t *conn) error {
		for batch := range slices.Chunk(userIDs, existingNamesBatch) {
			args := []any{setID}
			for _, id := range batch {
				args = append(args, id)
			}
			if _, err := t.exec(ctx, "DELETE FROM user_role_sets WHERE set_id = ? AND user_id IN ("+rowsOf("?", len(batch))+")", args...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *conn) RoleSetMembers(ctx context.Context, setID int64) ([]int64, error) {
	rows, err := c.query(ctx, "SELECT user_id FROM user_role_sets WHERE set_id = ? ORDER BY user_id", setID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

const passwordResetColumns = "id, user_id, created_at, expires_at, used_at"

func scanPasswordReset(s scanner) (*portico.PasswordReset, error) {
	r := &portico.PasswordReset{}
	err := s.Scan(&r.ID, &r.UserID, scanTime(&r.CreatedAt), scanTime(&r.ExpiresAt), scanTime(&r.UsedAt))
	return r, err
}

func (c *conn) CreatePasswordReset(ctx context.Context, r *portico.PasswordReset, tokenHash []byte) error {
	err := c.writeRow(ctx, "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?) RETURNING id",
		r.UserID, tokenHash, at(r.CreatedAt), at(r.ExpiresAt)).Scan(&r.ID)
	return refused(err, "This password link is already in use.", "There is no such user.")
}

func (c *conn) PasswordResetByTokenHash(ctx context.Context, h []byte) (*portico.PasswordReset, error) {
	r, err := scanPasswordReset(c.queryRow(ctx, "SELECT "+passwordResetColumns+" FROM password_resets WHERE token_hash = ?", h))
	return r, notFound(err, "No password link has this token.")
}

func (c *conn) UsePasswordReset(ctx context.Context, id int64, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?", at(now), id, at(now))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return portico.Errorf(portico.ECONFLICT, "This password link was used or has expired.")
	}
	return nil
}

func (c *conn) EndPasswordResets(ctx context.Context, userID int64, now time.Time) error {
	_, err := c.exec(ctx, "UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL", at(now), userID)
	return err
}
