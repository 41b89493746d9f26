-- Secrets of the account lifecycle, OUTSIDE the journal (see
-- schemas/oss/v1/lifecycle.proto). stream_id is always the account's
-- ACCESS stream 'access-<account_id>' (where the lifecycle events live).
-- Every row here changes in the same
-- transaction as the event that records the change (the journal's extra_fn
-- hook), and no event ever carries a secret or a hash of one. Run as
-- oss_owner.

-- The current password of an account: Argon2id, PHC-encoded.
CREATE TABLE oss.credentials (
    stream_id     text PRIMARY KEY,            -- 'access-<account_id>'
    password_hash text NOT NULL,               -- $argon2id$v=19$...
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The current activation secret of an account (one at a time; a resend
-- replaces it, a success deletes it). A 6-digit code can be found by trying
-- all of them against a plain hash, so both are keyed:
-- HMAC-SHA256(crypto.otp_key_file, 'otp|' || stream || '|' || code).
CREATE TABLE oss.activation_secrets (
    stream_id   text PRIMARY KEY,
    delivery_id uuid NOT NULL,
    otp_hmac    bytea NOT NULL CHECK (length(otp_hmac) = 32),
    link_hmac   bytea NOT NULL CHECK (length(link_hmac) = 32),
    key_id      text NOT NULL,                 -- id of the OTP key used
    expires_at  timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,    -- wrong codes (mirror of the events)
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Sessions: the opaque token is stored only as
-- HMAC-SHA256(crypto.otp_key_file, 'session|' || token); checked
-- synchronously on every request (never from a read model).
CREATE TABLE oss.sessions (
    token_hmac    bytea PRIMARY KEY CHECK (length(token_hmac) = 32),
    session_id    uuid NOT NULL UNIQUE,
    stream_id     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX sessions_stream ON oss.sessions (stream_id, created_at);

-- Messages that must carry a secret (activation link and OTP), waiting for
-- the notifier: sealed (AES-256-GCM under the subject's data key, AAD
-- subject_id '|delivery|' delivery_id; sealed_secret = nonce(12) ||
-- ciphertext || tag) and short-lived: deleted once delivered or expired.
-- The event (ActivationIssued.delivery_id) references the row, never the
-- secret.
CREATE TABLE oss.deliveries (
    delivery_id   uuid PRIMARY KEY,
    event_id      uuid NOT NULL,               -- the ActivationIssued event
    stream_id     text NOT NULL,
    subject_id    uuid NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('email', 'whatsapp')),
    kind          text NOT NULL DEFAULT 'activation',
    sealed_secret bytea NOT NULL,
    expires_at    timestamptz NOT NULL,
    delivered_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_expires ON oss.deliveries (expires_at);
CREATE INDEX deliveries_event ON oss.deliveries (event_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON oss.credentials TO oss_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON oss.activation_secrets TO oss_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON oss.sessions TO oss_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON oss.deliveries TO oss_app;
