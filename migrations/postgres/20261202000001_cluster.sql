-- Several instances on one store: each writes a heartbeat row (live instances share a limit
-- while Redis is down), and a token's rate limits may count over a window other than a minute.
CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
CREATE INDEX instances_seen ON instances (seen_at);

ALTER TABLE tokens ADD COLUMN rate_window_ms BIGINT;
