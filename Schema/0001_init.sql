-- Margin store, schema 1.
--
-- The change log (`change`) is the source of truth: every other table except `meta` and
-- `version` is derived from the set of changes held, and two replicas holding the same set hold
-- the same rows. A change is a write of one field of one entity, named by its dot (origin, seq).

-- Local facts of this replica: replica_id, replica_name, hlc (the last clock reading issued).
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The version vector: per origin, the highest seq held (always contiguous from 1).
CREATE TABLE version (
    origin TEXT PRIMARY KEY NOT NULL,
    seq INTEGER NOT NULL
) WITHOUT ROWID;

-- The change log. value is canonical JSON; supersedes is a JSON array of [origin, seq] dots the
-- author saw in this field when writing; context (deletes only) is the author's version vector.
CREATE TABLE change (
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hlc INTEGER NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    supersedes TEXT NOT NULL DEFAULT '[]',
    context TEXT,
    PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
CREATE INDEX change_by_entity ON change(entity_id, field);

-- Dots that some held write supersedes: a write whose dot is here is dead, even if it arrives late.
CREATE TABLE superseded (
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (origin, seq)
) WITHOUT ROWID;

-- The live writes of every field (a multi-value register): held writes no held write supersedes.
CREATE TABLE live (
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hlc INTEGER NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    supersedes TEXT NOT NULL,
    PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
CREATE INDEX live_by_field ON live(entity_id, field);

-- Names of the replicas whose changes are held (entity 'replica', field 'name').
CREATE TABLE replica (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
) WITHOUT ROWID;

-- Articles as shown: the winning value of each field. Rows may be partial while a creation's
-- changes are still arriving; readers take rows whose title and body are set. num is a rowid that
-- VACUUM keeps, so the full-text index stays attached.
CREATE TABLE article (
    num INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    url TEXT,
    title TEXT,
    byline TEXT,
    source TEXT,
    published_at TEXT,
    language TEXT,
    body TEXT,
    caption TEXT,
    content_hash TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_hlc INTEGER NOT NULL,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX article_by_url ON article(url);
CREATE INDEX article_by_source ON article(source);

-- Annotations as shown. Selectors: TextQuoteSelector (exact, prefix, suffix) and
-- TextPositionSelector (start, end: Unicode code points over the body; end exclusive).
CREATE TABLE annotation (
    num INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT,
    motivation TEXT,
    exact TEXT,
    prefix TEXT,
    suffix TEXT,
    start INTEGER,
    "end" INTEGER,
    revision TEXT,
    note TEXT,
    color TEXT,
    author TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_hlc INTEGER NOT NULL,
    updated_hlc INTEGER NOT NULL
);
CREATE INDEX annotation_by_article ON annotation(article_id, start);

-- Tags of articles and annotations (an observed-remove set per entity).
CREATE TABLE tag (
    entity_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (entity_id, tag)
) WITHOUT ROWID;
CREATE INDEX tag_by_name ON tag(tag);

-- Fields whose live writes disagree (kind 'value'), and deleted entities with an edit the delete
-- had not seen (kind 'delete'). Derived: every replica holding the same changes lists the same.
CREATE TABLE conflict (
    id TEXT PRIMARY KEY NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    field TEXT NOT NULL,
    kind TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX conflict_by_entity ON conflict(entity_id);

-- Full-text search over article titles and bodies and annotation notes, kept in sync by triggers
-- in the same transaction as the rows (external content: the text is stored once).
CREATE VIRTUAL TABLE article_fts USING fts5(
    title, body, content='article', content_rowid='num', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER article_fts_insert AFTER INSERT ON article BEGIN
    INSERT INTO article_fts(rowid, title, body) VALUES (new.num, new.title, new.body);
END;
CREATE TRIGGER article_fts_delete AFTER DELETE ON article BEGIN
    INSERT INTO article_fts(article_fts, rowid, title, body) VALUES ('delete', old.num, old.title, old.body);
END;
CREATE TRIGGER article_fts_update AFTER UPDATE OF title, body ON article BEGIN
    INSERT INTO article_fts(article_fts, rowid, title, body) VALUES ('delete', old.num, old.title, old.body);
    INSERT INTO article_fts(rowid, title, body) VALUES (new.num, new.title, new.body);
END;

CREATE VIRTUAL TABLE note_fts USING fts5(
    note, content='annotation', content_rowid='num', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER note_fts_insert AFTER INSERT ON annotation BEGIN
    INSERT INTO note_fts(rowid, note) VALUES (new.num, new.note);
END;
CREATE TRIGGER note_fts_delete AFTER DELETE ON annotation BEGIN
    INSERT INTO note_fts(note_fts, rowid, note) VALUES ('delete', old.num, old.note);
END;
CREATE TRIGGER note_fts_update AFTER UPDATE OF note ON annotation BEGIN
    INSERT INTO note_fts(note_fts, rowid, note) VALUES ('delete', old.num, old.note);
    INSERT INTO note_fts(rowid, note) VALUES (new.num, new.note);
END;
