-- Look-ups of an account by a personal identifier that is NOT unique (an
-- e-mail address may serve several businesses), for sign-in by e-mail:
-- keyed hashes only (HMAC-SHA256 under crypto.index_key_file of
-- kind "|" normalised value, like oss.identity_claims), written by the
-- registration in its append transaction (journal extra_fn). Deleted with
-- the subject when it is shredded. Run as oss_owner.
CREATE TABLE oss.account_lookup (
    kind       text NOT NULL,                 -- 'email'
    digest     bytea NOT NULL CHECK (length(digest) = 32),
    stream_id  text NOT NULL,                 -- 'account-<id>'
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, digest, stream_id)
);
GRANT SELECT, INSERT, DELETE ON oss.account_lookup TO oss_app;
