-- OSS 1.1 accounts to migrate ("ganti hak akses"), imported from a file by
-- `oss legacy import FILE` (consumers/audit/cmd_legacy.c). Personal and
-- identifying values are kept only as keyed hashes (HMAC-SHA256 under
-- crypto.index_key_file of kind "|" normalised value: kinds
-- legacy_username (lower-cased), npwp (NPWP16), legacy_director_name
-- (upper-cased, single spaces), nik); the company name and the
-- ratification decree number are not personal. POST /v1/legacy-migrations
-- checks the old password (Argon2id) and these digests, registers the new
-- account with a LegacyAccountMigrated event naming legacy_id, and in the
-- same transaction marks the row migrated and drops the old password hash.
-- Single use is also enforced by an oss.identity_claims row of kind
-- 'legacy' (digest of the legacy_id) in that transaction. Run as oss_owner.
CREATE TABLE oss.legacy_accounts (
    legacy_id            text PRIMARY KEY,
    username_digest      bytea NOT NULL UNIQUE CHECK (length(username_digest) = 32),
    password_hash        text CHECK (password_hash LIKE '$argon2id$%'),
    npwp_digest          bytea NOT NULL CHECK (length(npwp_digest) = 32),
    company              text NOT NULL,
    decree_number        text NOT NULL,
    director_name_digest bytea NOT NULL CHECK (length(director_name_digest) = 32),
    director_nik_digest  bytea NOT NULL CHECK (length(director_nik_digest) = 32),
    imported_at          timestamptz NOT NULL DEFAULT now(),
    migrated_account_id  text,
    migrated_at          timestamptz,
    CHECK ((migrated_account_id IS NULL) = (migrated_at IS NULL))
);
GRANT SELECT, INSERT ON oss.legacy_accounts TO oss_app;
GRANT UPDATE (password_hash, migrated_account_id, migrated_at)
    ON oss.legacy_accounts TO oss_app;
