-- Terms of use as versioned data: every published version with where its
-- text is and the SHA-256 of that text (infra/data/terms/<version>.txt; the
-- e2e test test_fixtures.sh checks the digests against the files). The
-- current version is the latest published_at <= now(). A registration must
-- name a known version (422 terms_version unknown_version otherwise);
-- accepting a version is a TermsAccepted event on the account stream
-- (account.proto). Publishing a new version = one INSERT here, by oss_owner;
-- the API re-reads the table within seconds. Run as oss_owner.
CREATE TABLE oss.terms_versions (
    version      text PRIMARY KEY CHECK (version ~ '^[A-Za-z0-9._-]{1,32}$'),
    published_at timestamptz NOT NULL,
    url          text NOT NULL,
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$')
);
INSERT INTO oss.terms_versions (version, published_at, url, sha256) VALUES
    ('2025-06', '2025-06-05 00:00:00+07', 'infra/data/terms/2025-06.txt',
     '6bea71121c5323b8ef89d1e42db5e87ac38a18451a220705262ed2cc945db3cd'),
    ('2026-07', '2026-07-01 00:00:00+07', 'infra/data/terms/2026-07.txt',
     'a0a141279fdccba4019c54f6b6f4401acf93b98ffa2e7c8b750b8221b532f8a6');
GRANT SELECT ON oss.terms_versions TO oss_app;
