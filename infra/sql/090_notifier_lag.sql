-- Issue 11 item 6: a backlog's progress in metrics. The notifier stores,
-- beside each partition's next offset, the high watermark it last saw, so
-- that /metrics says how many published events it has not consumed yet
-- (oss_notifier_lag_events), as the projector's rm.positions does.
-- Additive: an older notifier leaves it 0 (no lag shown).
ALTER TABLE oss.notifier_offsets
    ADD COLUMN IF NOT EXISTS high_watermark bigint NOT NULL DEFAULT 0;
