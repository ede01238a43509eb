-- Join tokens: only the SHA-256 hash of a token is stored, never the token.
CREATE TABLE wca_join_tokens (
  hash        text PRIMARY KEY,
  id          text NOT NULL,
  spiffe_id   text NOT NULL,
  dns_names   text[] NOT NULL DEFAULT '{}',
  expires_at  timestamptz NOT NULL,
  -- Set at first use: who spent it (connection and Envoy node) and until when they may present it again.
  spent_by    text,
  spent_until timestamptz
);
CREATE INDEX wca_join_tokens_expiry ON wca_join_tokens (expires_at);

-- Authority actions every replica applies, in seq order.
CREATE TABLE wca_authority_actions (
  seq          bigserial PRIMARY KEY,
  action       text NOT NULL CHECK (action IN ('taint', 'revoke', 'emergency-rotate')),
  authority_id text NOT NULL,
  reason       text NOT NULL,
  requested_by text NOT NULL,
  -- The replica whose admin API took the request (it has applied it already).
  origin       text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now()
);

-- Replicas wake on a notification and then read what they have not seen (the payload is only a hint).
CREATE FUNCTION wca_notify_authority_action() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('wca_authority_actions', NEW.seq::text);
  RETURN NEW;
END
$$;
CREATE TRIGGER wca_authority_actions_notify AFTER INSERT ON wca_authority_actions
  FOR EACH ROW EXECUTE FUNCTION wca_notify_authority_action();

-- Replica membership: each replica's last heartbeat and a small status summary.
CREATE TABLE wca_replicas (
  replica_id text PRIMARY KEY,
  status     jsonb NOT NULL,
  last_seen  timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
