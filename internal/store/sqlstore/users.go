package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

const userColumns = "id, username, name, email, phone, admin, disabled, created_at, session_epoch, must_change_password"

func scanUser(s scanner) (*portico.User, error) {
	u := &portico.User{Roles: []portico.Role{}, OwnRoles: []portico.Role{}}
	err := s.Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.Phone, &u.Admin, &u.Disabled, scanTime(&u.CreatedAt), &u.SessionEpoch, &u.MustChangePassword)
	return u, err
}

func (c *conn) CreateUser(ctx context.Context, u *portico.User, passwordHash string) error {
	return c.tx(ctx, func(t *conn) error {
		err := t.writeRow(ctx, `INSERT INTO users (username, name, email, phone, admin, disabled, password_hash, created_at, must_change_password)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			u.Username, u.Name, u.Email, u.Phone, u.Admin, u.Disabled, passwordHash, at(u.CreatedAt), u.MustChangePassword).Scan(&u.ID)
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
	return u, c.loadRoles(ctx, []*portico.User{u}, true)
}

// UserByUsername ignores case: user names are unique regardless of it.
func (c *conn) UserByUsername(ctx context.Context, username string) (*portico.User, error) {
	u, err := scanUser(c.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE lower(username) = lower(?)", username))
	if err != nil {
		return nil, notFound(err, "There is no user %s.", username)
	}
	return u, c.loadRoles(ctx, []*portico.User{u}, true)
}

// loadRoles fills in the users' own roles and their effective ones, which
// add the roles of their role sets, in one query: of the listed users only,
// or of every user when listed is false.
func (c *conn) loadRoles(ctx context.Context, users []*portico.User, listed bool) error {
	if len(users) == 0 {
		return nil
	}
	byID := make(map[int64]*portico.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	own := "SELECT user_id, role, 1 FROM user_roles"
	sets := "SELECT s.user_id, r.role, 0 FROM user_role_sets s JOIN role_set_roles r ON r.set_id = s.set_id"
	var args []any
	if listed {
		in := " IN (" + rowsOf("?", len(users)) + ")"
		own += " WHERE user_id" + in
		sets += " WHERE s.user_id" + in
		for range 2 {
			for _, u := range users {
				args = append(args, u.ID)
			}
		}
	}
	rows, err := c.query(ctx, own+" UNION ALL "+sets, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var r portico.Role
		var direct int
		if err := rows.Scan(&id, &r, &direct); err != nil {
			return err
		}
		u := byID[id]
		if u == nil {
			continue
		}
		u.Roles = append(u.Roles, r)
		if direct == 1 {
			u.OwnRoles = append(u.OwnRoles, r)
		}
	}
	// Sorted here rather than in SQL, whose text order follows the
	// database's collation.
	for _, u := range users {
		u.Roles = portico.NormalizeRoles(u.Roles)
		u.OwnRoles = portico.NormalizeRoles(u.OwnRoles)
	}
	return rows.Err()
}

func (c *conn) PasswordHash(ctx context.Context, userID int64) (string, error) {
	var h string
	err := c.queryRow(ctx, "SELECT password_hash FROM users WHERE id = ?", userID).Scan(&h)
	return h, notFound(err, "There is no user %d.", userID)
}

func (c *conn) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	res, err := c.exec(ctx, "UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?", hash, false, userID)
	return mustAffect(res, err, "There is no user %d.", userID)
}

// UpdateUser checks that the email address is free rather than relying on
// a unique index: admins may create accounts that share an address, and
// rows from before this rule may, but a user may not take another's. So
// only a changed address (not in case alone) is checked: users who share
// one keep it through changes of their other details.
func (c *conn) UpdateUser(ctx context.Context, u *portico.User) error {
	return c.tx(ctx, func(t *conn) error {
		var taken bool
		err := t.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users o JOIN users me ON me.id = ?
			WHERE lower(o.email) = lower(?) AND o.id <> me.id AND lower(me.email) <> lower(?))`, u.ID, u.Email, u.Email).Scan(&taken)
		if err != nil {
			return err
		}
		if taken {
			return portico.Errorf(portico.ECONFLICT, "The email address %s belongs to another user.", u.Email)
		}
		res, err := t.exec(ctx, "UPDATE users SET name = ?, email = ?, phone = ? WHERE id = ?", u.Name, u.Email, u.Phone, u.ID)
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
	return users, c.loadRoles(ctx, users, false)
}

func (c *conn) SearchUsers(ctx context.Context, f store.UserFilter) ([]*portico.User, error) {
	q := "SELECT " + userColumns + " FROM users"
	var args []any
	if text := strings.TrimSpace(f.Query); text != "" {
		like := "%" + likeEscaper.Replace(strings.ToLower(text)) + "%"
		fold := c.d.fold
		q += ` WHERE ` + fold + `(username) LIKE ? ESCAPE '\' OR ` + fold + `(name) LIKE ? ESCAPE '\' OR ` + fold + `(email) LIKE ? ESCAPE '\'`
		args = append(args, like, like, like)
	}
	q += " ORDER BY lower(username), id"
	if f.Limit > 0 {
		q += " LIMIT ? OFFSET ?"
		args = append(args, f.Limit, f.Offset)
	}
	users, err := scanAll(scanUser)(c.query(ctx, q, args...))
	if err != nil {
		return nil, err
	}
	return users, c.loadRoles(ctx, users, true)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// existingNamesBatch keeps each query's list of parameters well below what
// either database accepts.
const existingNamesBatch = 500

func (c *conn) ExistingUsernames(ctx context.Context, names []string) ([]string, error) {
	return c.existing(ctx, "username", names)
}

func (c *conn) ExistingEmails(ctx context.Context, emails []string) ([]string, error) {
	return c.existing(ctx, "email", emails)
}

// existing returns the distinct values of the column that match, in any
// case, one of the values.
func (c *conn) existing(ctx context.Context, column string, values []string) ([]string, error) {
	found := []string{}
	for batch := range slices.Chunk(values, existingNamesBatch) {
		args := make([]any, len(batch))
		for i, n := range batch {
			args[i] = strings.ToLower(n)
		}
		rows, err := c.query(ctx, "SELECT DISTINCT "+column+" FROM users WHERE lower("+column+") IN ("+rowsOf("?", len(batch))+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return nil, err
			}
			found = append(found, n)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
	}
	return found, nil
}

func (c *conn) SetUserDisabled(ctx context.Context, userID int64, disabled bool) error {
	res, err := c.exec(ctx, "UPDATE users SET disabled = ? WHERE id = ?", disabled, userID)
	return mustAffect(res, err, "There is no user %d.", userID)
}

func (c *conn) SetTemporaryPassword(ctx context.Context, userID int64, hash string) error {
	res, err := c.exec(ctx, "UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?", hash, true, userID)
	return mustAffect(res, err, "There is no user %d.", userID)
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
