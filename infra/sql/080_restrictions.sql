-- Accounts whose access the OSS authority restricted (suspended): one row
-- while the restriction holds, written in the same transaction as the
-- AccessRestricted event (src/app/access.c, the journal's extra_fn) and
-- deleted with AccessRestrictionLifted. The journal is the record; this
-- row is what sign-in and authorization consult without folding the
-- account stream. No personal data. Run as oss_owner.
CREATE TABLE oss.account_restrictions (
    account_id    text PRIMARY KEY,
    restricted_at timestamptz NOT NULL DEFAULT now(),
    restricted_by text NOT NULL,
    event_id      uuid NOT NULL
);
GRANT SELECT, INSERT, DELETE ON oss.account_restrictions TO oss_app;
