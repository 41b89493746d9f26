-- Personal data (issue 4, item 7). Every read of a subject's personal data
-- by staff (officer, operator, auditor) through the API, written in the same
-- transaction as its oss.v1.PersonalDataRead event on "subject-<subject_id>"
-- (producers/api/privacy.c); the subject lists it at
-- GET /v1/me/personal-data-access. No personal data here: ids, role, the
-- reason the reader gave and the endpoint. Append-only for the application.
-- Run as oss_owner.
CREATE TABLE oss.pii_access_log (
    id                  bigserial PRIMARY KEY,
    subject_id          uuid NOT NULL,
    account_id          text NOT NULL,
    reader_principal_id text NOT NULL,
    reader_role         text NOT NULL,
    reason              text NOT NULL CHECK (length(reason) > 0),
    endpoint            text NOT NULL,
    event_id            uuid NOT NULL,        -- the PersonalDataRead event
    read_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pii_access_log_subject ON oss.pii_access_log (subject_id, read_at);

GRANT SELECT, INSERT ON oss.pii_access_log TO oss_app;
GRANT USAGE ON SEQUENCE oss.pii_access_log_id_seq TO oss_app;
