-- Margin store, schema 7: the protocol-1 change log is gone; its history lives on as runs (0006).
DROP INDEX change_by_entity;
DROP TABLE change;
DROP TABLE superseded;
DROP TABLE version;
