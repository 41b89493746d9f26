-- Issue 11, item 6: the notifier's senders take the messages a person waits
-- for (activation codes, reset links) from oss.deliveries ahead of bulk
-- mail, whatever their Kafka order: this index serves that poll, and the
-- /metrics gauge of codes waiting.
CREATE INDEX IF NOT EXISTS deliveries_waited_pending
    ON oss.deliveries (created_at)
    WHERE delivered_at IS NULL AND kind IN ('activation', 'password_reset');
-- the progress gauges count handled messages by status
CREATE INDEX IF NOT EXISTS notifications_status
    ON oss.notifications (status);
-- a principal's grants, revoked ones included (the notifier's delivery
-- stream and contact look-ups read them for every message: without this
-- index each was a sequential scan of oss.grants)
CREATE INDEX IF NOT EXISTS grants_principal_all
    ON oss.grants (principal_id);
