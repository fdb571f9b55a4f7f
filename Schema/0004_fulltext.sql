-- The full-text indexes are kept by the merge engine instead of row triggers: it writes each
-- touched row once per transaction, then its full-text entries after all the rows (see
-- WriteContext.finish). FTS5 flushes its pending terms at every statement savepoint, and a trigger
-- made every row's statement one, so each row became its own index segment. The contents are
-- unchanged: every row keeps one entry holding its current title and body (note).
DROP TRIGGER article_fts_insert;
DROP TRIGGER article_fts_update;
DROP TRIGGER note_fts_insert;
DROP TRIGGER note_fts_update;
