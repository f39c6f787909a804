-- Alert ingestion: integrations (alert sources with hashed keys), heartbeat monitors, and
-- each alert's urgency. Keep in step with ../sqlite/0002_ingestion.sql.

ALTER TABLE alerts ADD COLUMN urgency TEXT NOT NULL DEFAULT 'high';

CREATE TABLE integrations (
    id         UUID PRIMARY KEY,
    service    TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    -- `config` (declared in tocsin.toml, key from the environment) or `cli` (created with
    -- `tocsin integration create`).
    origin     TEXT NOT NULL,
    settings   JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (service, name)
);

CREATE TABLE heartbeats (
    id           UUID PRIMARY KEY,
    service      TEXT NOT NULL,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    interval_ms  BIGINT NOT NULL,
    grace_ms     BIGINT NOT NULL,
    origin       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_ping_at TIMESTAMPTZ,
    UNIQUE (service, name)
);
