-- Post-incident reviews: one postmortem per incident, and the incident's action items with
-- the tickets filed for them.
-- Keep in step with ../postgres/0011_postmortems.sql.

-- The document. `sections` is a JSON array of {key, title, level, body} in template order;
-- `timeline` the generated, curated copy of the incident's timeline (JSON array of
-- {entry_id, at, kind, actor, text, hidden, annotation}); `meeting` the scheduled review.
CREATE TABLE postmortems (
    id                BLOB PRIMARY KEY,
    incident_id       BLOB NOT NULL UNIQUE REFERENCES incidents (id),
    status            TEXT NOT NULL,
    owner             TEXT,
    sections          TEXT NOT NULL,
    timeline          TEXT NOT NULL,
    impact_started_at TEXT,
    impact_ended_at   TEXT,
    meeting           TEXT,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    published_at      TEXT
);
CREATE INDEX postmortems_status ON postmortems (status, created_at);

CREATE TABLE action_items (
    id            BLOB PRIMARY KEY,
    incident_id   BLOB NOT NULL REFERENCES incidents (id),
    title         TEXT NOT NULL,
    assignee      TEXT,
    tracker       TEXT,
    target        TEXT,
    state         TEXT NOT NULL,
    ticket_status TEXT NOT NULL,
    ticket_key    TEXT,
    ticket_url    TEXT,
    ticket_state  TEXT,
    ticket_error  TEXT,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    done_at       TEXT
);
CREATE INDEX action_items_incident ON action_items (incident_id, created_at);
-- What a tracker's webhook names: the ticket, on one tracker.
CREATE UNIQUE INDEX action_items_ticket ON action_items (tracker, ticket_key);
CREATE INDEX action_items_state ON action_items (state);
