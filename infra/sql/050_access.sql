-- Access rights (hak akses), kept OUTSIDE the journal but written in the
-- same transaction as the events that change them (the journal's extra_fn
-- hook), so that every request checks them synchronously, never from a read
-- model that Kafka feeds (see producers/api/auth.h). Run as oss_owner.

-- Every person who can sign in. A business account's first owner has
-- principal_id = account_id; everyone else a uuid7. contact_stream names the
-- stream whose first event seals the person's contact (the account stream's
-- AccountRegistered for a first owner, else "access-<principal_id>"'s
-- PrincipalCreated).
CREATE TABLE oss.principals (
    principal_id   text PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('business', 'government')),
    subject_id     uuid NOT NULL,
    contact_stream text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX principals_subject ON oss.principals (subject_id);

-- Who may do what: business roles on one account, government roles in one
-- institution ("oss" = the OSS authority, a sector code, a 10-digit region
-- code, "kek-<code>") with an officer's sector and/or region scope.
CREATE TABLE oss.grants (
    grant_id      bigserial PRIMARY KEY,
    principal_id  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'preparer', 'viewer',
                  'officer', 'access_admin', 'operator', 'auditor')),
    account_id    text,
    institution   text,
    sector        text,
    region        text,
    granted_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text,
    CHECK ((role IN ('owner', 'preparer', 'viewer')) = (account_id IS NOT NULL))
);
CREATE UNIQUE INDEX grants_active ON oss.grants
    (principal_id, role, coalesce(account_id, ''), coalesce(institution, ''))
    WHERE revoked_at IS NULL;
CREATE INDEX grants_principal ON oss.grants (principal_id)
    WHERE revoked_at IS NULL;
CREATE INDEX grants_account ON oss.grants (account_id)
    WHERE revoked_at IS NULL;
-- one owner at a time
CREATE UNIQUE INDEX grants_one_owner ON oss.grants (account_id)
    WHERE role = 'owner' AND revoked_at IS NULL;

-- What an officer's scope is matched against: the account's domicile region
-- (10-digit Kemendagri code, may be NULL), written by the registration.
CREATE TABLE oss.account_scope (
    account_id text PRIMARY KEY,
    region     text CHECK (region ~ '^[0-9]{10}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON oss.principals TO oss_app;
GRANT SELECT, INSERT, UPDATE ON oss.grants TO oss_app;
GRANT USAGE ON SEQUENCE oss.grants_grant_id_seq TO oss_app;
GRANT SELECT, INSERT, UPDATE ON oss.account_scope TO oss_app;
