-- Every insert, by a replica or by hand, takes its seq here and under one lock held to
-- its commit: commit order equals seq order, so a reader whose cursor passed a seq can
-- never see a row below it appear later (a fleet action lost), and no row can be
-- planted at a seq the sequence will hand out (an explicit seq is replaced).
ALTER TABLE wca_authority_actions ALTER COLUMN seq DROP DEFAULT;
CREATE FUNCTION wca_authority_action_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(2003009826);
  NEW.seq := nextval('wca_authority_actions_seq_seq');
  RETURN NEW;
END
$$;
CREATE TRIGGER wca_authority_actions_seq BEFORE INSERT ON wca_authority_actions
  FOR EACH ROW EXECUTE FUNCTION wca_authority_action_seq();
