-- Foundation schema: directory, incidents, alerts, timeline, durable jobs, API tokens.
-- Keep in step with ../postgres/0001_foundation.sql: same tables, columns and indexes.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('incident_number', 0);

CREATE TABLE users (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    email     TEXT,
    time_zone TEXT NOT NULL,
    phone     TEXT,
    role      TEXT NOT NULL,
    chat      TEXT NOT NULL
);

CREATE TABLE user_identities (
    platform    TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    PRIMARY KEY (platform, external_id)
);

CREATE TABLE teams (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    members TEXT NOT NULL
);

CREATE TABLE services (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    description       TEXT,
    team              TEXT,
    escalation_policy TEXT
);

CREATE TABLE incidents (
    id                  BLOB PRIMARY KEY,
    number              INTEGER NOT NULL UNIQUE,
    title               TEXT NOT NULL,
    severity            TEXT NOT NULL,
    status              TEXT NOT NULL,
    commander           TEXT,
    communications_lead TEXT,
    responders          TEXT NOT NULL,
    services            TEXT NOT NULL,
    declared_by         TEXT NOT NULL,
    declared_at         TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    resolved_at         TEXT
);
CREATE INDEX incidents_status ON incidents (status, number);

CREATE TABLE incident_channels (
    incident_id BLOB NOT NULL REFERENCES incidents (id),
    platform    TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    PRIMARY KEY (platform, channel_id)
);
CREATE UNIQUE INDEX incident_channels_one_per_platform ON incident_channels (incident_id, platform);

CREATE TABLE alerts (
    id              BLOB PRIMARY KEY,
    service         TEXT NOT NULL,
    source          TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    severity        TEXT NOT NULL,
    summary         TEXT NOT NULL,
    details         TEXT NOT NULL,
    labels          TEXT NOT NULL,
    links           TEXT NOT NULL,
    status          TEXT NOT NULL,
    event_count     INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    resolved_by     TEXT,
    resolved_at     TEXT
);
-- At most one unresolved alert per key and service: the dedup rule, enforced by the database.
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (service, dedup_key) WHERE status <> 'resolved';
CREATE INDEX alerts_status ON alerts (status, id);

CREATE TABLE incident_alerts (
    incident_id BLOB NOT NULL REFERENCES incidents (id),
    alert_id    BLOB NOT NULL REFERENCES alerts (id),
    linked_at   TEXT NOT NULL,
    PRIMARY KEY (incident_id, alert_id)
);

CREATE TABLE status_updates (
    id          BLOB PRIMARY KEY,
    incident_id BLOB NOT NULL REFERENCES incidents (id),
    text        TEXT NOT NULL,
    visibility  TEXT NOT NULL,
    status      TEXT NOT NULL,
    author      TEXT NOT NULL,
    posted_at   TEXT NOT NULL
);
CREATE INDEX status_updates_incident ON status_updates (incident_id, posted_at);

CREATE TABLE timeline (
    id          BLOB PRIMARY KEY,
    incident_id BLOB REFERENCES incidents (id),
    alert_id    BLOB REFERENCES alerts (id),
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    text        TEXT NOT NULL,
    data        TEXT NOT NULL,
    CHECK ((incident_id IS NULL) <> (alert_id IS NULL))
);
CREATE INDEX timeline_incident ON timeline (incident_id, at, id);
CREATE INDEX timeline_alert ON timeline (alert_id, at, id);

-- Chat messages Tocsin posted and keeps up to date (cards edited in place), by a key such as
-- `incident:<id>:card` and platform.
CREATE TABLE chat_messages (
    key        TEXT NOT NULL,
    platform   TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (key, platform)
);

CREATE TABLE jobs (
    id           BLOB PRIMARY KEY,
    queue        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    run_at       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    lease_owner  BLOB,
    lease_until  TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (queue, state, run_at);
CREATE INDEX jobs_leases ON jobs (state, lease_until);

CREATE TABLE api_tokens (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
