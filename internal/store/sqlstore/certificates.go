package sqlstore

import (
	"context"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

const certificateColumns = "id, user_id, type, subject, issuer, email, not_after, has_key, uploaded_at"

func scanCertificate(s scanner) (*portico.Certificate, error) {
	c := &portico.Certificate{}
	err := s.Scan(&c.ID, &c.UserID, &c.Type, &c.Subject, &c.Issuer, &c.Email, scanTime(&c.NotAfter), &c.HasKey, scanTime(&c.UploadedAt))
	return c, err
}

func (c *conn) PutCertificate(ctx context.Context, cert *portico.Certificate, sealed store.SealedFile) error {
	err := c.writeRow(ctx, `INSERT INTO certificates (user_id, type, subject, issuer, email, not_after, has_key, pkcs12, password, uploaded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, type) DO UPDATE SET subject = excluded.subject, issuer = excluded.issuer, email = excluded.email,
			not_after = excluded.not_after, has_key = excluded.has_key, pkcs12 = excluded.pkcs12, password = excluded.password,
			uploaded_at = excluded.uploaded_at
		RETURNING id`,
		cert.UserID, string(cert.Type), cert.Subject, cert.Issuer, cert.Email, at(cert.NotAfter), cert.HasKey,
		sealed.PKCS12, sealed.Password, at(cert.UploadedAt)).Scan(&cert.ID)
	return refused(err, "", "There is no such user.")
}

func (c *conn) CertificateByID(ctx context.Context, id int64) (*portico.Certificate, error) {
	cert, err := scanCertificate(c.queryRow(ctx, "SELECT "+certificateColumns+" FROM certificates WHERE id = ?", id))
	return cert, notFound(err, "There is no certificate %d.", id)
}

func (c *conn) CertificateFile(ctx context.Context, id int64) (store.SealedFile, error) {
	var f store.SealedFile
	err := c.queryRow(ctx, "SELECT pkcs12, password FROM certificates WHERE id = ?", id).Scan(&f.PKCS12, &f.Password)
	return f, notFound(err, "There is no certificate %d.", id)
}

func (c *conn) ListCertificates(ctx context.Context, userID int64) ([]*portico.Certificate, error) {
	return scanAll(scanCertificate)(c.query(ctx, "SELECT "+certificateColumns+" FROM certificates WHERE user_id = ? ORDER BY type DESC", userID))
}

func (c *conn) DeleteCertificate(ctx context.Context, id int64) error {
	res, err := c.exec(ctx, "DELETE FROM certificates WHERE id = ?", id)
	return mustAffect(res, err, "There is no certificate %d.", id)
}
