-- Secrets this installation makes for itself (the key that signs acknowledge links), so
-- that every replica uses the same one. Keep in step with ../postgres/0005_instance_secrets.sql.
CREATE TABLE instance_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
