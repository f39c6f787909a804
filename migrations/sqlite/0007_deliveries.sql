-- Inbound deliveries already handled (a chat platform's event id), so a retried delivery
-- changes nothing twice. Keep in step with ../postgres/0007_deliveries.sql.
CREATE TABLE deliveries (
    key     TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
);
