-- Margin store, schema 10: what a hub records about access. None of these tables is replicated.

-- A read-only token may pull, digest and verify; its push is refused (403).
ALTER TABLE token ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;

-- The replica keys that have pushed with each token (for `margin token list`): the first and the
-- last time. A token holder can push runs of other origins (relaying), so this lists origins whose
-- runs it delivered, each with the key that signed them (NULL for unsigned protocol-1 history).
CREATE TABLE token_origin (
    token TEXT NOT NULL,
    origin TEXT NOT NULL,
    key BLOB,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (token, origin)
) WITHOUT ROWID;

-- Every push the hub answered: when, with which token, what it carried (origins and seq ranges),
-- how many changes it applied, and the result (ok, or the refusal's code).
CREATE TABLE delivery (
    num INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    token TEXT,
    -- JSON: [[origin, first, last], …] per run.
    ranges TEXT NOT NULL,
    runs INTEGER NOT NULL,
    changes INTEGER NOT NULL,
    applied INTEGER NOT NULL,
    result TEXT NOT NULL,
    -- The refusal's sentence, if any.
    message TEXT
);
