-- A channel's own rate limits: requests and tokens per window (unset: no limit; the window
-- unset: a minute).
ALTER TABLE channels ADD COLUMN rpm BIGINT;
ALTER TABLE channels ADD COLUMN tpm BIGINT;
ALTER TABLE channels ADD COLUMN rate_window_ms BIGINT;
