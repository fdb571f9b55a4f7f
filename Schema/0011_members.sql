-- Margin store, schema 11: the replicas a hub's owner bound to each token (`margin token bind`).
-- `margin serve --members-only` accepts runs only of these origins (and the hub's own). Only
-- key-derived replica ids are bound (never protocol-1 UUIDs): such an id is derived from the
-- replica's public key, so binding the id binds the key. Not replicated.
CREATE TABLE token_member (
    token TEXT NOT NULL,
    origin TEXT NOT NULL,
    bound_at TEXT NOT NULL,
    PRIMARY KEY (token, origin)
) WITHOUT ROWID;
CREATE INDEX token_member_origin ON token_member(origin);
