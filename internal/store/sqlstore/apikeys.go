package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/portico-mdm/portico"
)

const apiKeyColumns = "id, name, scope, created_by, created_at, expires_at, last_used_at, revoked_at"

func scanAPIKey(s scanner) (*portico.APIKey, error) {
	k := &portico.APIKey{}
	err := s.Scan(&k.ID, &k.Name, &k.Scope, &k.CreatedBy, scanTime(&k.CreatedAt), scanTime(&k.ExpiresAt),
		scanTime(&k.LastUsedAt), scanTime(&k.RevokedAt))
	return k, err
}

func (c *conn) CreateAPIKey(ctx context.Context, k *portico.APIKey, tokenHash []byte) error {
	err := c.writeRow(ctx, `INSERT INTO api_keys (name, token_hash, scope, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		k.Name, tokenHash, string(k.Scope), k.CreatedBy, at(k.CreatedAt), at(k.ExpiresAt)).Scan(&k.ID)
	return refused(err, "There is already an API key named "+k.Name+"; names are never reused, revoked keys' included.", "")
}

func (c *conn) APIKeyByID(ctx context.Context, id int64) (*portico.APIKey, error) {
	k, err := scanAPIKey(c.queryRow(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE id = ?", id))
	return k, notFound(err, "There is no API key %d.", id)
}

func (c *conn) APIKeyByTokenHash(ctx context.Context, h []byte) (*portico.APIKey, error) {
	k, err := scanAPIKey(c.queryRow(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE token_hash = ?", h))
	return k, notFound(err, "No API key has this hash.")
}

func (c *conn) ListAPIKeys(ctx context.Context) ([]*portico.APIKey, error) {
	return scanAll(scanAPIKey)(c.query(ctx, "SELECT "+apiKeyColumns+" FROM api_keys ORDER BY id DESC"))
}

func (c *conn) RevokeAPIKey(ctx context.Context, id int64, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", at(now), id)
	if err := mustAffect(res, err, ""); portico.ErrorCode(err) != portico.ENOTFOUND {
		return err
	}
	var n int
	if err := c.queryRow(ctx, "SELECT count(*) FROM api_keys WHERE id = ?", id).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if n == 0 {
		return portico.Errorf(portico.ENOTFOUND, "There is no API key %d.", id)
	}
	return portico.Errorf(portico.ECONFLICT, "The API key %d was revoked already.", id)
}

func (c *conn) TouchAPIKey(ctx context.Context, id int64, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", at(now), id)
	return mustAffect(res, err, "There is no API key %d.", id)
}
