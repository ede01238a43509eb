-- The one replica that applies an action (`--replica`); NULL: every replica, as every row written before this column.
ALTER TABLE wca_authority_actions ADD COLUMN target text;
