-- Where each annotation sits in its article's current body. Derived state, never synced: a pure
-- function of the annotation's target, the text of the revision it was made on (kept in the
-- change log) and the current body (see Reanchor), recomputed whenever either changes, so every
-- replica holding the same changes shows the same placements.
-- anchor_state: 'anchored' (anchor_start..<anchor_end, code points, is the passage) or 'orphan'
-- (its text is gone; anchor_start..<anchor_end is the best candidate, if any, never shown as the
-- passage). NULL until the annotation and its article's body are both known.
ALTER TABLE annotation ADD COLUMN anchor_state TEXT;
ALTER TABLE annotation ADD COLUMN anchor_start INTEGER;
ALTER TABLE annotation ADD COLUMN anchor_end INTEGER;
ALTER TABLE annotation ADD COLUMN anchor_score REAL;
ALTER TABLE annotation ADD COLUMN anchor_method TEXT;
CREATE INDEX annotation_orphans ON annotation(anchor_state) WHERE anchor_state = 'orphan';
