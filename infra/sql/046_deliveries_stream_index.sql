-- Registration and resend remove the account's superseded, undelivered
-- activation message by stream: index that look-up (without it, every
-- registration scanned the whole table).
CREATE INDEX IF NOT EXISTS deliveries_stream_pending
    ON oss.deliveries (stream_id) WHERE delivered_at IS NULL;
