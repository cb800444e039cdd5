-- Per-key limits and usage accounting (issue 5). NULL limit = no limit.
ALTER TABLE gateway_keys ADD COLUMN rpm INTEGER;              -- requests per minute
ALTER TABLE gateway_keys ADD COLUMN tpm INTEGER;              -- tokens (prompt + completion) per minute
ALTER TABLE gateway_keys ADD COLUMN max_concurrent INTEGER;   -- requests in flight at once
ALTER TABLE gateway_keys ADD COLUMN budget_usd REAL;          -- spend per calendar month (UTC)

-- One row per /v1/chat/completions request, written after the response (waitUntil).
CREATE TABLE usage (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at        TEXT NOT NULL,     -- ISO 8601 UTC, when the request arrived
  key_id            TEXT,              -- gateway_keys.id, NULL = a GATEWAY_KEYS (bootstrap) key
  model             TEXT,              -- the model name the client asked for, NULL before the body was read (refused by a key limit, or unparsable)
  deployment        TEXT,              -- the deployment that answered (provider/model or its label)
  provider_model    TEXT,              -- the upstream's model id (what prices are looked up by)
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens     INTEGER NOT NULL DEFAULT 0,
  cost_usd          REAL NOT NULL DEFAULT 0,
  latency_ms        INTEGER NOT NULL,  -- until the response (or its stream) ended
  status            INTEGER NOT NULL,  -- HTTP status, 499 = the client went away
  streamed          INTEGER NOT NULL,  -- 0 / 1
  error_type        TEXT,              -- the error's code (or type), NULL on success
  note              TEXT               -- e.g. why the cost is 0 (no price for the model)
);
CREATE INDEX usage_by_key_time ON usage (key_id, created_at);
CREATE INDEX usage_by_time ON usage (created_at);
