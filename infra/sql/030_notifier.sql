-- The notifier's delivery ledger: one row per (event, channel), written
-- BEFORE a message is handed to the mail server (status 'sending') and AFTER
-- (status 'sent'), so that a Kafka redelivery or a restart sends no duplicate.
-- A row left 'sending' by a crash is re-sent with the same Message-ID
-- (<event-id@oss.local>), which receivers use to drop the repeat.
-- Also the notifier's Kafka positions (it uses assign(), not a group), keyed
-- by the broker's cluster id so that a broker restarted empty starts over.
CREATE TABLE oss.notifications (
    event_id    uuid NOT NULL,
    channel     text NOT NULL,                 -- 'email'
    status      text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'skipped')),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,                          -- never holds personal data
    stream_id   text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, channel)
);

CREATE TABLE oss.notifier_offsets (
    consumer    text NOT NULL,
    topic       text NOT NULL,
    part        integer NOT NULL,
    cluster_id  text NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, part)
);

GRANT SELECT, INSERT, UPDATE ON oss.notifications TO oss_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON oss.notifier_offsets TO oss_app;
