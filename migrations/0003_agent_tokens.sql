-- Agent tokens (issue 5): what local-agents dial the tunnel with, each scoped to the model
-- names it may register. Only the SHA-256 of a token is stored; the token itself is shown
-- once, in the response that creates it. The AGENT_TOKENS secret stays as an unscoped bootstrap.
CREATE TABLE agent_tokens (
  id          TEXT PRIMARY KEY,        -- public id (atk_…), used by the admin API
  name        TEXT NOT NULL,
  token_hash  TEXT NOT NULL UNIQUE,    -- hex SHA-256 of the token; the unique index is the lookup
  models      TEXT NOT NULL,           -- JSON array of model-name patterns the agent may register
  created_at  TEXT NOT NULL,           -- ISO 8601 UTC
  expires_at  TEXT,                    -- ISO 8601 UTC; NULL = never
  revoked_at  TEXT                     -- ISO 8601 UTC; NULL = active
);
