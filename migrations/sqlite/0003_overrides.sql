-- On-call overrides ("take my shift until 18:00"). Keep in step with ../postgres/0003_overrides.sql.
CREATE TABLE schedule_overrides (
    id         BLOB PRIMARY KEY,
    schedule   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    start_at   TEXT NOT NULL,
    end_at     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX schedule_overrides_by_end ON schedule_overrides (schedule, end_at);
