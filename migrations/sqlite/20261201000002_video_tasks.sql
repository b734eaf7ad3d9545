-- Video tasks (SQLite): one row per task from its creation to one terminal state. The state
-- changes only by compare-and-set on `version`; the poller takes due tasks under a lease
-- (`lease_owner` until `lease_until`). Times are Unix milliseconds; money is cost units.

CREATE TABLE video_tasks (
    id TEXT PRIMARY KEY,
    token_id INTEGER,
    owner TEXT NOT NULL,
    front TEXT NOT NULL,
    channel TEXT NOT NULL,
    key_index INTEGER NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    upstream_id TEXT NOT NULL,
    upstream_ref TEXT,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    progress INTEGER NOT NULL,
    failure_code TEXT,
    failure_message TEXT,
    result_url TEXT,
    video_ms INTEGER,
    charged_units INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER,
    expires_at INTEGER,
    deadline_at INTEGER NOT NULL,
    next_poll_at INTEGER NOT NULL,
    polls INTEGER NOT NULL,
    poll_errors INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL
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
