-- Delivery outcomes (schemas/oss/v1/delivery.proto) are journal events on
-- the streams "delivery-<account_id>" (stream type 'delivery'), written by
-- the notifier. `oss delivery failed --since 1h` lists the messages that
-- failed in a window straight from the journal; this partial index keeps
-- that a few index pages however large the journal grows. Run as oss_owner.
CREATE INDEX IF NOT EXISTS journal_delivery_failed
    ON oss.journal (recorded_at)
    WHERE payload_type = 'oss.v1.DeliveryFailed';
