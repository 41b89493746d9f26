-- The journal: the store of record. Append-only; unique (stream_id, version)
-- gives optimistic concurrency; xid (the writing transaction's id, xid8) lets
-- the relay read by commit horizon. Run as the owner role (oss_owner); the
-- application role oss_app may only INSERT and SELECT here.
CREATE SCHEMA IF NOT EXISTS oss;

CREATE TABLE oss.journal (
    position          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid               xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id          uuid NOT NULL UNIQUE,
    stream_id         text NOT NULL,
    stream_type       text NOT NULL,
    version           bigint NOT NULL CHECK (version >= 1),
    occurred_at       timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL,
    actor_kind        smallint NOT NULL,
    actor_id          text NOT NULL DEFAULT '',
    correlation_id    text NOT NULL DEFAULT '',
    causation_id      text NOT NULL DEFAULT '',
    cause_id          text NOT NULL DEFAULT '',
    reason            text,
    software_version  text NOT NULL,
    payload_type      text NOT NULL,
    schema_version    integer NOT NULL,
    payload           bytea NOT NULL,
    prev_hash         bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash              bytea NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT journal_stream_version UNIQUE (stream_id, version)
);
-- The relay's cursor: (xid, position), read below the commit horizon.
CREATE INDEX journal_xid_position ON oss.journal (xid, position);

CREATE FUNCTION oss.journal_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER journal_no_update BEFORE UPDATE OR DELETE ON oss.journal
    FOR EACH ROW EXECUTE FUNCTION oss.journal_immutable();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON oss.journal
    FOR EACH STATEMENT EXECUTE FUNCTION oss.journal_immutable();

-- A retried command (same idempotency key) returns its first result. Written
-- in the append transaction after the journal rows, never before them.
CREATE TABLE oss.idempotency (
    key           text PRIMARY KEY,
    request_hash  bytea NOT NULL,        -- SHA-256 of the command body
    stream_id     text NOT NULL,
    first_version bigint NOT NULL,
    last_version  bigint NOT NULL,
    status        integer NOT NULL,      -- HTTP status first answered
    response      text NOT NULL,         -- JSON body first answered
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Uniqueness rules over personal data (one account per business, NIK already
-- registered): keyed hashes, outside the journal so that shredding removes
-- them. Inserted in the append transaction.
CREATE TABLE oss.identity_claims (
    kind       text NOT NULL,            -- 'nik', 'passport', 'business'
    digest     bytea NOT NULL,           -- HMAC-SHA256 under the index key
    stream_id  text NOT NULL,
    subject_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, digest)
);

-- Per-subject data keys, wrapped by a master key. Deleting a row
-- crypto-shreds the subject: its sealed fields in the journal stay
-- unreadable forever.
CREATE TABLE oss.subject_keys (
    subject_id    uuid PRIMARY KEY,
    master_key_id text NOT NULL,
    wrapped_key   bytea NOT NULL,        -- nonce || ciphertext || tag
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The relay's checkpoint: the last (xid, position) whose delivery Kafka
-- confirmed, and the cluster id it was published to.
CREATE TABLE oss.relay_checkpoint (
    id          integer PRIMARY KEY CHECK (id = 1),
    xid         xid8 NOT NULL,
    position    bigint NOT NULL,
    cluster_id  text NOT NULL DEFAULT '',
    published   bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO oss.relay_checkpoint (id, xid, position) VALUES (1, '0'::xid8, 0);

GRANT USAGE ON SCHEMA oss TO oss_app;
GRANT SELECT, INSERT ON oss.journal TO oss_app;
GRANT SELECT, INSERT ON oss.idempotency TO oss_app;
GRANT SELECT, INSERT, DELETE ON oss.identity_claims TO oss_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON oss.subject_keys TO oss_app;
GRANT SELECT, UPDATE ON oss.relay_checkpoint TO oss_app;
