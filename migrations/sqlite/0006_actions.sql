-- Actions run from chat, the audit log, and idempotent declares.
-- Keep in step with ../postgres/0006_actions.sql.

ALTER TABLE incidents ADD COLUMN declare_key TEXT;
CREATE UNIQUE INDEX incidents_declare_key ON incidents (declare_key) WHERE declare_key IS NOT NULL;

CREATE TABLE action_runs (
    id           BLOB PRIMARY KEY,
    action       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    args         TEXT NOT NULL,
    incident_id  BLOB REFERENCES incidents (id),
    requested_by TEXT NOT NULL,
    platform     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    state        TEXT NOT NULL,
    summary      TEXT,
    detail       TEXT,
    link         TEXT,
    external     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX action_runs_incident ON action_runs (incident_id, created_at);

-- Append-only: rows are inserted, never updated or deleted by Tocsin.
CREATE TABLE audit_log (
    id          BLOB PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    event       TEXT NOT NULL,
    action      TEXT NOT NULL,
    run_id      BLOB,
    incident_id BLOB,
    args        TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);
