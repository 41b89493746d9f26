-- Dead letters: messages a consumer could not verify, decode or apply. The
-- consumer records them with the reason and moves on; `oss dlq redrive`
-- re-verifies and re-applies them and marks them resolved. Run as oss_owner.
CREATE TABLE IF NOT EXISTS oss.dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer    text NOT NULL,             -- projector.name, notifier, ...
    kind        text NOT NULL,             -- 'signature', 'decode', 'apply'
    topic       text,
    partition   integer,
    msg_offset  bigint,                    -- Kafka offset (NULL from journal)
    event_id    text,                      -- when the envelope decoded
    stream_id   text,
    version     bigint,
    reason      text NOT NULL,
    msg_key     bytea,                     -- Kafka key as received
    payload     bytea,                     -- Kafka value as received
    headers     jsonb,                     -- {"name": "value" | "hex:..."}
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    redriven_at timestamptz,
    resolved_at timestamptz
);
CREATE INDEX IF NOT EXISTS dead_letters_open
    ON oss.dead_letters (consumer, id) WHERE resolved_at IS NULL;
GRANT SELECT, INSERT, UPDATE ON oss.dead_letters TO oss_app;
