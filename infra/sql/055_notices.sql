-- Targeted notices (producers/api/notice.c -> consumers/notifier): a
-- producer that wants a person told something queues an oss.deliveries row
-- for its event in the event's own transaction: kind = the template name
-- (consumers/notifier/templates.c), sealed_secret = nonce(12) || AES-256-GCM
-- ciphertext || tag under the recipient subject's data key (field
-- "delivery|<delivery_id>") of {"to", "channel", "vars"}. account_id names
-- the delivery stream ("delivery-<account_id>") the notifier records the
-- outcomes on. The notifier sends each row once (its ledger is keyed by the
-- row's delivery_id and channel) and deletes it a few minutes after it was
-- delivered, or at expiry. Run as oss_owner.
ALTER TABLE oss.deliveries ADD COLUMN IF NOT EXISTS account_id text;

-- kind was free text: keep it a template name
ALTER TABLE oss.deliveries DROP CONSTRAINT IF EXISTS deliveries_kind_name;
ALTER TABLE oss.deliveries ADD CONSTRAINT deliveries_kind_name
    CHECK (kind ~ '^[a-z][a-z0-9_]{0,47}$');

-- the notifier's poll of notices still to send (activations go through
-- their ActivationIssued event instead)
CREATE INDEX IF NOT EXISTS deliveries_notices_pending
    ON oss.deliveries (created_at)
    WHERE delivered_at IS NULL AND kind <> 'activation';
