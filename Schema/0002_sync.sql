-- Margin store, schema 2: what sync needs locally. None of these tables is replicated.

-- Bearer tokens this replica accepts when it serves (`margin token create`). Only the SHA-256 of a
-- token is kept; the token itself is printed once.
CREATE TABLE token (
    name TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

-- Peers this replica syncs with (`margin remote add`). token_env names an environment variable
-- that holds the bearer token: the token itself is never written here. known_vector is the
-- remote's version vector as of the last exchange (JSON), for `margin status`.
CREATE TABLE remote (
    name TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    token_env TEXT,
    known_vector TEXT,
    last_sync_at TEXT,
    last_error TEXT
) WITHOUT ROWID;
