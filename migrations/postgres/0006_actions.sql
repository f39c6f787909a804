-- Actions run from chat, the audit log, and idempotent declares.
-- Keep in step with ../sqlite/0006_actions.sql.

ALTER TABLE incidents ADD COLUMN declare_key TEXT;
CREATE UNIQUE INDEX incidents_declare_key ON incidents (declare_key) WHERE declare_key IS NOT NULL;

CREATE TABLE action_runs (
    id           UUID PRIMARY KEY,
    action       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    args         JSONB NOT NULL,
    incident_id  UUID REFERENCES incidents (id),
    requested_by TEXT NOT NULL,
    platform     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    state        TEXT NOT NULL,
    summary      TEXT,
    detail       TEXT,
    link         TEXT,
    external     JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX action_runs_incident ON action_runs (incident_id, created_at);

-- Append-only: rows are inserted, never updated or deleted by Tocsin.
CREATE TABLE audit_log (
    id          UUID PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    event       TEXT NOT NULL,
    action      TEXT NOT NULL,
    run_id      UUID,
    incident_id UUID,
    args        JSONB NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);
