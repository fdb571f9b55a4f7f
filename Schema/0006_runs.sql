-- Margin store, schema 6: protocol 2. The change log becomes a log of signed runs.
--
-- A run is consecutive changes of one origin, signed by that origin's Ed25519 key and chained to
-- its previous run by SHA-256 (see Sources/MarginStore/Model/Run.swift for the body's form). Runs
-- are kept exactly as their author signed them, so a relay forwards the bytes it received. The
-- protocol-1 tables (change, superseded, version) are converted by the data step that follows
-- this file (Migrations.swift: the store's own history is signed with a new key, other origins'
-- history is kept unsigned) and dropped by 0007.

-- Every origin whose changes are held. num is this store's own short name for it (never synced).
CREATE TABLE origin (
    num INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    -- The version vector: every seq from 1 to seq is held.
    seq INTEGER NOT NULL DEFAULT 0,
    -- The Ed25519 public key (32 bytes) the origin's runs are signed with; NULL while only
    -- unsigned (protocol-1) runs of it are held.
    key BLOB,
    -- SHA-256 of the held run that ends at seq: the next run's prev must name it.
    head BLOB
);

-- The runs held, in the order this store received them (num), which is a causal order: every dot
-- a run names was held before it arrived, so a peer served in this order can check every run.
CREATE TABLE run (
    num INTEGER PRIMARY KEY,
    origin INTEGER NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    -- The largest hlc of its changes.
    hlc INTEGER NOT NULL,
    -- SHA-256 of body.
    hash BLOB NOT NULL,
    -- The author's Ed25519 signature of the hash; NULL for protocol-1 history, which no key signed.
    signature BLOB,
    -- The run's canonical JSON body, byte for byte as signed.
    body BLOB NOT NULL
);
CREATE UNIQUE INDEX run_by_origin ON run(origin, first);

-- Which changes wrote each entity (for its history: the log, revisions, bases of note merges).
CREATE TABLE entity_change (
    entity_id TEXT NOT NULL,
    origin INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (entity_id, origin, seq)
) WITHOUT ROWID;

-- The live writes of a field that has more than one (a conflict): their clocks, values (canonical
-- JSON) and the dots each superseded (the base of a three-way merge of notes). A field with one
-- live write shows it in its row. Tags keep no values here: their live writes' values are in
-- the entity's state.
CREATE TABLE live_value (
    entity_id TEXT NOT NULL,
    field TEXT NOT NULL,
    origin INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    hlc INTEGER NOT NULL,
    value TEXT NOT NULL,
    supersedes TEXT NOT NULL,
    PRIMARY KEY (entity_id, field, origin, seq)
) WITHOUT ROWID;

-- Protocol-1 history could supersede a write before that write arrived; such dots are kept here
-- (for unsigned, legacy origins only) so the late write is dead on arrival. Protocol 2 delivers
-- causally instead: a run may name only dots its receiver holds.
CREATE TABLE legacy_superseded (
    origin INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (origin, seq)
) WITHOUT ROWID;

-- A held dot that arrived again with other bytes (two writers of one origin: a copied store
-- file), kept as evidence for `margin status`. The held version stays.
CREATE TABLE equivocation (
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    held_hash BLOB NOT NULL,
    received_hash BLOB NOT NULL,
    seen_at TEXT NOT NULL,
    -- Who delivered it: a remote's name (pull) or a token's name (push).
    via TEXT,
    PRIMARY KEY (origin, seq)
) WITHOUT ROWID;

-- Per entity, the live writes of each field (dots only, in this store's origin numbers): what the
-- next write of a field supersedes, and what a received write competes with.
ALTER TABLE article ADD COLUMN state BLOB;
ALTER TABLE annotation ADD COLUMN state BLOB;
ALTER TABLE replica ADD COLUMN state BLOB;

-- Digests of the replicated state, kept up to date by every write so that `/v1/digest` and
-- `margin verify` read them instead of scanning the store. Per kind (changes, articles,
-- annotations, tags, conflicts, replicas): the sum, modulo 2^256, of the SHA-256 of each row's
-- canonical line (Store+Digest.swift), and the number of rows (of changes, for `changes`). A sum
-- does not depend on the order rows came in, and a row's hash is taken out when the row changes.
CREATE TABLE digest (
    kind TEXT PRIMARY KEY NOT NULL,
    sum BLOB NOT NULL,
    count INTEGER NOT NULL
) WITHOUT ROWID;
-- The SHA-256 of the row's canonical line as its kind's digest counts it.
ALTER TABLE article ADD COLUMN line_hash BLOB;
-- The body's length in code points, so placing an annotation need not read the body.
ALTER TABLE article ADD COLUMN body_length INTEGER;
ALTER TABLE annotation ADD COLUMN line_hash BLOB;
