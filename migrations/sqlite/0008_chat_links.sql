-- Chat identities Tocsin found itself (a Slack member matched by e-mail), kept across
-- restarts: the configuration's directory is rebuilt at every start, these are added back.
-- Keep in step with ../postgres/0008_chat_links.sql.
CREATE TABLE chat_links (
    platform    TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    linked_at   TEXT NOT NULL,
    PRIMARY KEY (platform, external_id)
);
