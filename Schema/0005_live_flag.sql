-- The live writes of a field are marked in the change log instead of copied into a table of their
-- own: `live` is 1 for a held change no held change supersedes. Derived, like the table it
-- replaces (a function of the set of changes held; never synced, not part of a change's bytes),
-- and it saves a second row, a second index entry and a second copy of every value per change.
ALTER TABLE change ADD COLUMN live INTEGER NOT NULL DEFAULT 1;
UPDATE change SET live = 0
    WHERE NOT EXISTS (SELECT 1 FROM live AS held WHERE held.origin = change.origin AND held.seq = change.seq);
DROP TABLE live;
