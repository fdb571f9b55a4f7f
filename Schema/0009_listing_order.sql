-- `margin list` pages articles newest first: this index holds them in that order (live ones
-- only, as the listing shows them), so a page reads its own rows and not the whole table.
CREATE INDEX article_listing ON article(published_at DESC, title, id)
    WHERE deleted = 0 AND title IS NOT NULL AND body IS NOT NULL;

-- Search ranks its matches in the full-text index, then asks each candidate, best first, whether
-- its article is live until a page is full. These indexes answer that without reading the row:
-- `deleted` comes after the body in it, so reading it there reads the body's overflow pages.
CREATE INDEX article_state ON article(num, deleted, id);
CREATE INDEX article_id_state ON article(id, deleted);
