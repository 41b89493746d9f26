-- Issue 11, item 6: the notifier's senders take the messages a person waits
-- for (activation codes, reset links) from oss.deliveries ahead of bulk
-- mail, whatever their Kafka order. That poll reads the unexpired rows by
-- deliveries_expires (expires_at): no index of its own. A partial index on
-- (created_at) WHERE delivered_at IS NULL AND kind IN (...) was tried and
-- dropped: the planner, with the table's statistics lagging, chose it for
-- the resend's DELETE ... WHERE stream_id = $1 (7,000 rows filtered per
-- registration) over deliveries_stream_pending.
DROP INDEX IF EXISTS oss.deliveries_waited_pending;
-- the progress gauges count handled messages by status
CREATE INDEX IF NOT EXISTS notifications_status
    ON oss.notifications (status);
-- a principal's grants, revoked ones included (the notifier's delivery
-- stream and contact look-ups read them for every message: without this
-- index each was a sequential scan of oss.grants)
CREATE INDEX IF NOT EXISTS grants_principal_all
    ON oss.grants (principal_id);
