-- Alert ingestion: integrations (alert sources with hashed keys), heartbeat monitors, and
-- each alert's urgency. Keep in step with ../postgres/0002_ingestion.sql.

ALTER TABLE alerts ADD COLUMN urgency TEXT NOT NULL DEFAULT 'high';

CREATE TABLE integrations (
    id         BLOB PRIMARY KEY,
    service    TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    -- `config` (declared in tocsin.toml, key from the environment) or `cli` (created with
    -- `tocsin integration create`).
    origin     TEXT NOT NULL,
    settings   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (service, name)
);

CREATE TABLE heartbeats (
    id           BLOB PRIMARY KEY,
    service      TEXT NOT NULL,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    interval_ms  INTEGER NOT NULL,
    grace_ms     INTEGER NOT NULL,
    origin       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_ping_at TEXT,
    UNIQUE (service, name)
);
