-- Several instances on one store: each writes a heartbeat row (live instances share a limit
-- while Redis is down), and a token's rate limits may count over a window other than a minute.
CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
CREATE INDEX instances_seen ON instances (seen_at);

ALTER TABLE tokens ADD COLUMN rate_window_ms BIGINT;

-- Every admin write bumps store_meta.revision; instances LISTEN on `sluice_revision` and reload
-- at once (each still polls the revision, in case a notification is missed).
CREATE FUNCTION sluice_revision_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('sluice_revision', NEW.revision::text);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER store_meta_notify AFTER UPDATE OF revision ON store_meta
    FOR EACH ROW EXECUTE FUNCTION sluice_revision_notify();
