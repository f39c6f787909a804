-- Indexes for reports (`GET /api/v1/reports`, `/reports`, `tocsin report`), chosen with
-- benches/reports.rs over 1,000,000 alerts and 10,000 incidents.
-- Keep in step with ../sqlite/0012_reports.sql.

-- Alerts triggered in a range, all services or some: every alert figure reads this range.
CREATE INDEX alerts_created ON alerts (created_at, service);
-- The pages in a range: only `paged` entries, a small part of the timeline.
CREATE INDEX timeline_pages ON timeline (at) WHERE kind = 'paged';
-- Incidents declared in a range.
CREATE INDEX incidents_declared ON incidents (declared_at);
