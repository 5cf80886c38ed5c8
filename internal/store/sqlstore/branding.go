package sqlstore

import (
	"context"

	"github.com/portico-mdm/portico"
)

func (c *conn) PutLogo(ctx context.Context, l *portico.Logo) error {
	_, err := c.exec(ctx, `INSERT INTO logo (id, content_type, data, digest, updated_at) VALUES (1, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data,
			digest = excluded.digest, updated_at = excluded.updated_at`,
		l.ContentType, l.Data, l.Digest, at(l.UpdatedAt))
	return err
}

func (c *conn) Logo(ctx context.Context, withData bool) (*portico.Logo, error) {
	l := &portico.Logo{}
	// Every page asks whether there is a logo; only its own route needs
	// the image.
	data := "NULL"
	if withData {
		data = "data"
	}
	err := c.queryRow(ctx, "SELECT content_type, "+data+", length(data), digest, updated_at FROM logo WHERE id = 1").
		Scan(&l.ContentType, &l.Data, &l.Size, &l.Digest, scanTime(&l.UpdatedAt))
	if err != nil {
		return nil, notFound(err, "There is no logo.")
	}
	return l, nil
}

func (c *conn) DeleteLogo(ctx context.Context) error {
	res, err := c.exec(ctx, "DELETE FROM logo WHERE id = 1")
	return mustAffect(res, err, "There is no logo.")
}

func (c *conn) RecordBackup(ctx context.Context, b *portico.BackupRecord) error {
	_, err := c.exec(ctx, "INSERT INTO backups (taken_at, taken_by, via, source) VALUES (?, ?, ?, ?)",
		at(b.At), b.By, b.Via, b.Source)
	return err
}

func (c *conn) LastBackup(ctx context.Context) (*portico.BackupRecord, error) {
	b := &portico.BackupRecord{}
	err := c.queryRow(ctx, "SELECT taken_at, taken_by, via, source FROM backups ORDER BY taken_at DESC, id DESC LIMIT 1").
		Scan(scanTime(&b.At), &b.By, &b.Via, &b.Source)
	if err != nil {
		return nil, notFound(err, "No backup was taken yet.")
	}
	return b, nil
}
