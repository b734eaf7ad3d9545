-- The store's first schema (PostgreSQL). Forward-only: later changes are new files.
-- Times are Unix milliseconds (UTC); money is integer cost units (millionths of a currency unit).

CREATE TABLE store_meta (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO store_meta (id, revision) VALUES (1, 0);

CREATE TABLE tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    expires_at BIGINT,
    quota_limit BIGINT,
    models TEXT,
    allow_ips TEXT,
    rpm BIGINT,
    tpm BIGINT,
    source TEXT NOT NULL DEFAULT 'store',
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (source, name) WHERE revoked_at IS NULL;

CREATE TABLE token_totals (
    token_id BIGINT PRIMARY KEY,
    used_units BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE channels (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    base_url TEXT NOT NULL,
    keys_enc BYTEA NOT NULL,
    key_hints TEXT NOT NULL,
    models TEXT NOT NULL,
    model_mapping TEXT NOT NULL,
    headers TEXT NOT NULL,
    anthropic_version TEXT NOT NULL,
    priority BIGINT NOT NULL,
    weight BIGINT NOT NULL,
    max_concurrency BIGINT,
    first_byte_ms BIGINT,
    stream_idle_ms BIGINT,
    total_ms BIGINT,
    enabled BOOLEAN NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The ledger: one row per request, keyed by the relay's own usage id (UUIDv7).
CREATE TABLE usage_events (
    usage_id UUID PRIMARY KEY,
    request_id TEXT NOT NULL,
    token_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    model TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    outcome TEXT NOT NULL,
    usage_source TEXT NOT NULL,
    status BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    images BIGINT NOT NULL,
    audio_ms BIGINT NOT NULL,
    video_ms BIGINT NOT NULL,
    cost_units BIGINT NOT NULL,
    stream BOOLEAN NOT NULL,
    ttft_ms BIGINT,
    latency_ms BIGINT NOT NULL,
    client_ip TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX usage_events_time ON usage_events (created_at);
CREATE INDEX usage_events_token_time ON usage_events (token_id, created_at);

-- Daily rollups, written in the same transaction as the ledger rows they sum.
CREATE TABLE usage_daily (
    day TEXT NOT NULL,
    token_id BIGINT NOT NULL,
    model TEXT NOT NULL,
    channel TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    estimated BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    images BIGINT NOT NULL,
    audio_ms BIGINT NOT NULL,
    video_ms BIGINT NOT NULL,
    cost_units BIGINT NOT NULL,
    PRIMARY KEY (day, token_id, model, channel)
);
