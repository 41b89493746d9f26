-- The relay's leadership hand-over: when the last leader was alive (its
-- producer produced nothing later than about a second after that) and whether
-- it closed its producer cleanly (everything delivered, handle destroyed). A
-- new leader waits out relay.message_timeout_ms after leader_alive_at unless
-- producer_closed, before it reads the partition tails.
ALTER TABLE oss.relay_checkpoint
    ADD COLUMN IF NOT EXISTS leader_alive_at timestamptz,
    ADD COLUMN IF NOT EXISTS producer_closed boolean NOT NULL DEFAULT true;
