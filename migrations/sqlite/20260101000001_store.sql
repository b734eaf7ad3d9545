-- The store's first schema (SQLite). Forward-only: later changes are new files.
-- Times are Unix milliseconds (UTC); money is integer cost units (millionths of a currency unit).

CREATE TABLE store_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO store_meta (id, revision) VALUES (1, 0);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    expires_at INTEGER,
    quota_limit INTEGER,
    models TEXT,
    allow_ips TEXT,
    rpm INTEGER,
    tpm INTEGER,
    source TEXT NOT NULL DEFAULT 'store',
    revision INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (source, name) WHERE revoked_at IS NULL;

CREATE TABLE token_totals (
    token_id INTEGER PRIMARY KEY,
    used_units INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    base_url TEXT NOT NULL,
    keys_enc BLOB NOT NULL,
    key_hints TEXT NOT NULL,
    models TEXT NOT NULL,
    model_mapping TEXT NOT NULL,
    headers TEXT NOT NULL,
    anthropic_version TEXT NOT NULL,
    priority INTEGER NOT NULL,
    weight INTEGER NOT NULL,
    max_concurrency INTEGER,
    first_byte_ms INTEGER,
    stream_idle_ms INTEGER,
    total_ms INTEGER,
    enabled INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The ledger: one row per request, keyed by the relay's own usage id (UUIDv7).
CREATE TABLE usage_events (
    usage_id BLOB PRIMARY KEY,
    request_id TEXT NOT NULL,
    token_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    model TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    outcome TEXT NOT NULL,
    usage_source TEXT NOT NULL,
    status INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    images INTEGER NOT NULL,
    audio_ms INTEGER NOT NULL,
    video_ms INTEGER NOT NULL,
    cost_units INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    ttft_ms INTEGER,
    latency_ms INTEGER NOT NULL,
    client_ip TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX usage_events_time ON usage_events (created_at);
CREATE INDEX usage_events_token_time ON usage_events (token_id, created_at);

-- Daily rollups, written in the same transaction as the ledger rows they sum.
CREATE TABLE usage_daily (
    day TEXT NOT NULL,
    token_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    channel TEXT NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    estimated INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    images INTEGER NOT NULL,
    audio_ms INTEGER NOT NULL,
    video_ms INTEGER NOT NULL,
    cost_units INTEGER NOT NULL,
    PRIMARY KEY (day, token_id, model, channel)
) WITHOUT ROWID;
