-- Gateway keys (issue 5). Only the SHA-256 of a key is stored; the key itself is shown
-- once, in the response that creates it. Applied by `wrangler d1 migrations apply`.
CREATE TABLE gateway_keys (
  id          TEXT PRIMARY KEY,        -- public id (key_…), used by the admin API
  name        TEXT NOT NULL,
  key_hash    TEXT NOT NULL UNIQUE,    -- hex SHA-256 of the key; the unique index is the lookup
  models      TEXT,                    -- JSON array of allowed model patterns; NULL = every model
  created_at  TEXT NOT NULL,           -- ISO 8601 UTC
  expires_at  TEXT,                    -- ISO 8601 UTC; NULL = never
  revoked_at  TEXT                     -- ISO 8601 UTC; NULL = active
);
