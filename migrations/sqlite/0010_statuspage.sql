-- The public status page: component states and their history, public incidents and
-- scheduled maintenance with their public updates, and the subscribers told of them.
-- Keep in step with ../postgres/0010_statuspage.sql.

-- The state of every component whose state was ever set; the others are operational.
CREATE TABLE component_states (
    component  TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row per real state change, appended and never edited: the history uptime bars are
-- drawn from. `id` orders changes made at the same moment.
CREATE TABLE component_changes (
    id        INTEGER PRIMARY KEY,
    component TEXT NOT NULL,
    status    TEXT NOT NULL,
    at        TEXT NOT NULL
);
-- A component's last change before a moment, and every change in a range.
CREATE INDEX component_changes_component ON component_changes (component, at, id);
CREATE INDEX component_changes_at ON component_changes (at, id);

-- Public incidents and scheduled maintenance (`kind`). `components` is a JSON array of
-- component ids.
CREATE TABLE public_incidents (
    id              BLOB PRIMARY KEY,
    kind            TEXT NOT NULL,
    incident_id     BLOB REFERENCES incidents (id),
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    impact          TEXT NOT NULL,
    components      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    monitoring_at   TEXT,
    resolved_at     TEXT,
    scheduled_for   TEXT,
    scheduled_until TEXT
);
-- At most one public incident speaks for an internal incident.
CREATE UNIQUE INDEX public_incidents_incident ON public_incidents (incident_id)
    WHERE incident_id IS NOT NULL;
-- Listing newest first: maintenance by its window, the rest by creation.
CREATE INDEX public_incidents_newest ON public_incidents (COALESCE(scheduled_for, created_at), id);
-- The page's `Last-Modified`.
CREATE INDEX public_incidents_updated ON public_incidents (updated_at);

-- Public updates, append-only. `seq` is the order they were written in (newest first is
-- by `seq`, not by the writer's clock); `affected_components` a JSON array of
-- {component, old_status, new_status}.
CREATE TABLE public_updates (
    seq                 INTEGER PRIMARY KEY,
    id                  BLOB NOT NULL UNIQUE,
    public_incident_id  BLOB NOT NULL REFERENCES public_incidents (id),
    status              TEXT NOT NULL,
    body                TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    affected_components TEXT NOT NULL,
    author              TEXT NOT NULL
);
CREATE INDEX public_updates_record ON public_updates (public_incident_id, seq);

-- Subscribers: one per kind and target (an address, a URL, `platform:channel`).
-- `components` is a JSON array of component ids, empty for all.
CREATE TABLE status_subscribers (
    id           BLOB PRIMARY KEY,
    kind         TEXT NOT NULL,
    target       TEXT NOT NULL,
    components   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    confirmed_at TEXT,
    UNIQUE (kind, target)
);
CREATE INDEX status_subscribers_created ON status_subscribers (created_at, id);

-- How many public changes (component state changes and public updates) were committed:
-- one row, bumped in the transaction of each change, so a reader sees it move exactly when
-- the change becomes visible, whatever the writer's clock. The page is kept under it.
CREATE TABLE status_page_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    changes INTEGER NOT NULL
);
INSERT INTO status_page_changes (id, changes) VALUES (1, 0);
