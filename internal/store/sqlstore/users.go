package sqlstore

import (
	"context"
	"slices"

	"github.com/portico-mdm/portico"
)

const userColumns = "id, username, name, email, phone, admin, disabled, created_at, session_epoch"

func scanUser(s scanner) (*portico.User, error) {
	u := &portico.User{Roles: []portico.Role{}}
	err := s.Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.Phone, &u.Admin, &u.Disabled, scanTime(&u.CreatedAt), &u.SessionEpoch)
	return u, err
}

func (c *conn) CreateUser(ctx context.Context, u *portico.User, passwordHash string) error {
	return c.tx(ctx, func(t *conn) error {
		err := t.writeRow(ctx, `INSERT INTO users (username, name, email, phone, admin, disabled, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			u.Username, u.Name, u.Email, u.Phone, u.Admin, u.Disabled, passwordHash, at(u.CreatedAt)).Scan(&u.ID)
		if err != nil {
			return refused(err, "The user name "+u.Username+" is taken.", "")
		}
		return t.insertRoles(ctx, u.ID, u.Roles)
	})
}

func (c *conn) insertRoles(ctx context.Context, userID int64, roles []portico.Role) error {
	roles = portico.NormalizeRoles(roles)
	if len(roles) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(roles))
	for _, r := range roles {
		args = append(args, userID, string(r))
	}
	_, err := c.exec(ctx, "INSERT INTO user_roles (user_id, role) VALUES "+rowsOf("(?, ?)", len(roles)), args...)
	return err
}

func (c *conn) UserByID(ctx context.Context, id int64) (*portico.User, error) {
	u, err := scanUser(c.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "There is no user %d.", id)
	}
	return u, c.loadRoles(ctx, u)
}

// UserByUsername ignores case: user names are unique regardless of it.
func (c *conn) UserByUsername(ctx context.Context, username string) (*portico.User, error) {
	u, err := scanUser(c.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE lower(username) = lower(?)", username))
	if err != nil {
		return nil, notFound(err, "There is no user %s.", username)
	}
	return u, c.loadRoles(ctx, u)
}

func (c *conn) loadRoles(ctx context.Context, u *portico.User) error {
	rows, err := c.query(ctx, "SELECT role FROM user_roles WHERE user_id = ?", u.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r portico.Role
		if err := rows.Scan(&r); err != nil {
			return err
		}
		u.Roles = append(u.Roles, r)
	}
	// Sorted here rather than in SQL, whose text order follows the
	// database's collation.
	slices.Sort(u.Roles)
	return rows.Err()
}

func (c *conn) PasswordHash(ctx context.Context, userID int64) (string, error) {
	var h string
	err := c.queryRow(ctx, "SELECT password_hash FROM users WHERE id = ?", userID).Scan(&h)
	return h, notFound(err, "There is no user %d.", userID)
}

func (c *conn) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	res, err := c.exec(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", hash, userID)
	return mustAffect(res, err, "There is no user %d.", userID)
}

// UpdateUser checks that the email address is free rather than relying on
// a unique index: admins may create accounts that share an address, and
// rows from before this rule may, but a user may not take another's.
func (c *conn) UpdateUser(ctx context.Context, u *portico.User) error {
	return c.tx(ctx, func(t *conn) error {
		var taken bool
		err := t.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(?) AND id <> ?)", u.Email, u.ID).Scan(&taken)
		if err != nil {
			return err
		}
		if taken {
			return portico.Errorf(portico.ECONFLICT, "The email address %s belongs to another user.", u.Email)
		}
		res, err := t.exec(ctx, "UPDATE users SET name = ?, email = ? WHERE id = ?", u.Name, u.Email, u.ID)
		return mustAffect(res, err, "There is no user %d.", u.ID)
	})
}

func (c *conn) EndUserSessions(ctx context.Context, userID int64) (int64, error) {
	var epoch int64
	err := c.writeRow(ctx, "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ? RETURNING session_epoch", userID).Scan(&epoch)
	return epoch, notFound(err, "There is no user %d.", userID)
}

func (c *conn) ListUsers(ctx context.Context) ([]*portico.User, error) {
	users, err := scanAll(scanUser)(c.query(ctx, "SELECT "+userColumns+" FROM users ORDER BY lower(username)"))
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*portico.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	rows, err := c.query(ctx, "SELECT user_id, role FROM user_roles")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var r portico.Role
		if err := rows.Scan(&id, &r); err != nil {
			return nil, err
		}
		if u := byID[id]; u != nil {
			u.Roles = append(u.Roles, r)
		}
	}
	for _, u := range users {
		slices.Sort(u.Roles)
	}
	return users, rows.Err()
}

func (c *conn) SetUserRoles(ctx context.Context, userID int64, roles []portico.Role) error {
	return c.tx(ctx, func(t *conn) error {
		// Touching the user's row locks it, so two changes of one user's
		// roles do not interleave.
		res, err := t.exec(ctx, "UPDATE users SET id = id WHERE id = ?", userID)
		if err := mustAffect(res, err, "There is no user %d.", userID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM user_roles WHERE user_id = ?", userID); err != nil {
			return err
		}
		return t.insertRoles(ctx, userID, roles)
	})
}

func (c *conn) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := c.queryRow(ctx, "SELECT count(*) FROM users WHERE admin AND NOT disabled").Scan(&n)
	return n, err
}

func (c *conn) Usernames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	for start := 0; start < len(ids); start += batchRows {
		batch := ids[start:min(start+batchRows, len(ids))]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := c.query(ctx, "SELECT id, username FROM users WHERE id IN ("+rowsOf("?", len(batch))+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = name
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
