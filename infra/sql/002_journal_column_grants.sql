-- The application role may INSERT journal rows but never choose their
-- position or transaction id: both come from the database (identity and
-- pg_current_xact_id()), or a row could be placed below the relay's cursor
-- and never be published. Column-level INSERT excludes them.
REVOKE INSERT ON oss.journal FROM oss_app;
GRANT INSERT (event_id, stream_id, stream_type, version, occurred_at,
              recorded_at, actor_kind, actor_id, correlation_id, causation_id,
              cause_id, reason, software_version, payload_type, schema_version,
              payload, prev_hash, hash)
    ON oss.journal TO oss_app;
