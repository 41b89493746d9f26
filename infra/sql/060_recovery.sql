-- Account recovery (producers/api/recovery.c, schemas/oss/v1/recovery.proto),
-- OUTSIDE the journal but written in the same transaction as the events
-- that record each change (the journal's extra_fn). Run as oss_owner.

-- Password-reset links: the token only as a keyed hash,
-- HMAC-SHA256(crypto.otp_key_file, 'reset|' || token), never the token.
-- One live link per principal (a new one deletes the older ones); the row
-- is deleted when the link is used (single use) and is void after
-- expires_at (the decision is the core's, from the events; expired rows are
-- purged by the next reset request). PasswordResetRequested.reset_id
-- references the row.
CREATE TABLE oss.reset_secrets (
    reset_id    uuid PRIMARY KEY,
    stream_id   text NOT NULL,               -- 'access-<principal_id>'
    token_hmac  bytea NOT NULL UNIQUE CHECK (length(token_hmac) = 32),
    key_id      text NOT NULL,               -- id of the OTP key used
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reset_secrets_stream ON oss.reset_secrets (stream_id);
CREATE INDEX reset_secrets_expires ON oss.reset_secrets (expires_at);

-- Help requests (an unreachable e-mail to replace): which account a request
-- id belongs to and whether it awaits a decision, for the operator's
-- decision route and listing. The events on "account-<account_id>"
-- (HelpRequestFiled, HelpRequestDecided, ContactReplaced) are the record;
-- this row changes in the same transaction as each of them. No personal
-- data: the new e-mail is sealed in the HelpRequestFiled event.
CREATE TABLE oss.help_requests (
    request_id   uuid PRIMARY KEY,
    account_id   text NOT NULL,
    principal_id text NOT NULL,
    status       text NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'approved', 'rejected')),
    filed_at     timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz
);
CREATE INDEX help_requests_open ON oss.help_requests (filed_at)
    WHERE status = 'open';

GRANT SELECT, INSERT, DELETE ON oss.reset_secrets TO oss_app;
GRANT SELECT, INSERT, UPDATE ON oss.help_requests TO oss_app;
