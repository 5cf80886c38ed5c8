package sqlstore

import (
	"context"

	"github.com/portico-mdm/portico"
)

func (c *conn) PutPushCertificate(ctx context.Context, p *portico.PushCertificate, sealedKey []byte) error {
	_, err := c.exec(ctx, `INSERT INTO push_certificate (id, topic, subject, issuer, serial, not_after, fingerprint, chain, sealed_key, uploaded_at, uploaded_by)
		VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET topic = excluded.topic, subject = excluded.subject, issuer = excluded.issuer,
			serial = excluded.serial, not_after = excluded.not_after, fingerprint = excluded.fingerprint, chain = excluded.chain,
			sealed_key = excluded.sealed_key, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by`,
		p.Topic, p.Subject, p.Issuer, p.Serial, at(p.NotAfter), p.Fingerprint, p.Chain, sealedKey, at(p.UploadedAt), p.UploadedBy)
	return err
}

func (c *conn) PushCertificate(ctx context.Context) (*portico.PushCertificate, []byte, error) {
	p := &portico.PushCertificate{}
	var sealedKey []byte
	err := c.queryRow(ctx, `SELECT topic, subject, issuer, serial, not_after, fingerprint, chain, sealed_key, uploaded_at, uploaded_by
		FROM push_certificate WHERE id = 1`).Scan(&p.Topic, &p.Subject, &p.Issuer, &p.Serial, scanTime(&p.NotAfter),
		&p.Fingerprint, &p.Chain, &sealedKey, scanTime(&p.UploadedAt), &p.UploadedBy)
	if err != nil {
		return nil, nil, notFound(err, "No push certificate was uploaded.")
	}
	return p, sealedKey, nil
}

func (c *conn) DeletePushCertificate(ctx context.Context) error {
	res, err := c.exec(ctx, "DELETE FROM push_certificate WHERE id = 1")
	return mustAffect(res, err, "No push certificate was uploaded.")
}
