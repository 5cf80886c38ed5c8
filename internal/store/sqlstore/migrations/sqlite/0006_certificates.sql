-- +goose Up
-- A user's S/MIME certificates (SPEC CERT-1..CERT-4). The PKCS#12 file and
-- its password are sealed with a key kept outside the database; the other
-- columns are what the portal lists, read from the certificate.
CREATE TABLE certificates (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    not_after   TEXT NOT NULL,
    has_key     INTEGER NOT NULL,
    pkcs12      BLOB NOT NULL,
    password    BLOB NOT NULL,
    uploaded_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX certificates_user_type ON certificates (user_id, type);

-- +goose Down
DROP TABLE certificates;
