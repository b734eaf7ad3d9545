-- Video tasks (PostgreSQL): one row per task from its creation to one terminal state. The state
-- changes only by compare-and-set on `version`; the poller takes due tasks under a lease
-- (`lease_owner` until `lease_until`). Times are Unix milliseconds; money is cost units.

CREATE TABLE video_tasks (
    id TEXT PRIMARY KEY,
    token_id BIGINT,
    owner TEXT NOT NULL,
    front TEXT NOT NULL,
    channel TEXT NOT NULL,
    key_index BIGINT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    upstream_id TEXT NOT NULL,
    upstream_ref TEXT,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    progress BIGINT NOT NULL,
    failure_code TEXT,
    failure_message TEXT,
    result_url TEXT,
    video_ms BIGINT,
    charged_units BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT,
    expires_at BIGINT,
    deadline_at BIGINT NOT NULL,
    next_poll_at BIGINT NOT NULL,
    polls BIGINT NOT NULL,
    poll_errors BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL,
    version BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL
);

-- The poller's due scan and the counts: pending tasks only.
CREATE INDEX video_tasks_due ON video_tasks (next_poll_at, lease_until)
    WHERE state IN ('queued', 'in_progress');
-- The deadline sweep.
CREATE INDEX video_tasks_deadline ON video_tasks (deadline_at)
    WHERE state IN ('queued', 'in_progress');
-- An owner's list, by creation then id.
CREATE INDEX video_tasks_owner ON video_tasks (owner, token_id, created_at, id);
-- Callbacks name the upstream's id; one upstream task is one relay task.
CREATE UNIQUE INDEX video_tasks_upstream ON video_tasks (channel, upstream_id);
