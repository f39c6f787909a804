-- The public status page: component states and their history, public incidents and
-- scheduled maintenance with their public updates, and the subscribers told of them.
-- Keep in step with ../sqlite/0010_statuspage.sql.

-- The state of every component whose state was ever set; the others are operational.
CREATE TABLE component_states (
    component  TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- One row per real state change, appended and never edited: the history uptime bars are
-- drawn from. `id` orders changes made at the same moment.
CREATE TABLE component_changes (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component TEXT NOT NULL,
    status    TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
-- A component's last change before a moment, and every change in a range.
CREATE INDEX component_changes_component ON component_changes (component, at, id);
CREATE INDEX component_changes_at ON component_changes (at, id);

-- Public incidents and scheduled maintenance (`kind`). `components` is a JSON array of
-- component ids.
CREATE TABLE public_incidents (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL,
    incident_id     UUID REFERENCES incidents (id),
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    impact          TEXT NOT NULL,
    components      JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    monitoring_at   TIMESTAMPTZ,
    resolved_at     TIMESTAMPTZ,
    scheduled_for   TIMESTAMPTZ,
    scheduled_until TIMESTAMPTZ
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
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  UUID NOT NULL UNIQUE,
    public_incident_id  UUID NOT NULL REFERENCES public_incidents (id),
    status              TEXT NOT NULL,
    body                TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    affected_components JSONB NOT NULL,
    author              TEXT NOT NULL
);
CREATE INDEX public_updates_record ON public_updates (public_incident_id, seq);

-- Subscribers: one per kind and target (an address, a URL, `platform:channel`).
-- `components` is a JSON array of component ids, empty for all.
CREATE TABLE status_subscribers (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL,
    target       TEXT NOT NULL,
    components   JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    UNIQUE (kind, target)
);
CREATE INDEX status_subscribers_created ON status_subscribers (created_at, id);

-- How many public changes (component state changes and public updates) were committed:
-- one row, bumped in the transaction of each change, so a reader sees it move exactly when
-- the change becomes visible, whatever the writer's clock. The page is kept under it.
CREATE TABLE status_page_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    changes BIGINT NOT NULL
);
INSERT INTO status_page_changes (id, changes) VALUES (1, 0);
