-- Where each alert's escalation stands. Keep in step with ../postgres/0004_escalations.sql.
-- `epoch` grows with every manual escalation, so that steps scheduled before it know they
-- are stale.
CREATE TABLE escalations (
    alert_id         BLOB PRIMARY KEY REFERENCES alerts (id),
    policy           TEXT NOT NULL,
    epoch            INTEGER NOT NULL,
    cycle            INTEGER NOT NULL,
    level            INTEGER NOT NULL,
    attempt          INTEGER NOT NULL,
    level_started_at TEXT NOT NULL,
    -- running | exhausted
    state            TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
