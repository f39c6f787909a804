-- One-time codes for `/incident link`: a person unknown on one chat platform asks for a
-- code there and gives it back where Tocsin knows them. One code per identity; a code is
-- used once and expires.
-- Keep in step with ../postgres/0009_link_codes.sql.
CREATE TABLE link_codes (
    code        TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    external_id TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    UNIQUE (platform, external_id)
);
