-- On-call overrides ("take my shift until 18:00"). Keep in step with ../sqlite/0003_overrides.sql.
CREATE TABLE schedule_overrides (
    id         UUID PRIMARY KEY,
    schedule   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    start_at   TIMESTAMPTZ NOT NULL,
    end_at     TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX schedule_overrides_by_end ON schedule_overrides (schedule, end_at);
