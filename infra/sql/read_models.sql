-- The read models of the projector (consumers/projector), defined ONCE.
-- Every read-model schema ("rm" served, "rm_new" while a rebuild runs, test
-- schemas) is made by oss.rm_define(), so all of them are identical. No
-- plaintext personal data and no secret here: ids, codes, times and the
-- servers' replies only. A SubjectErased event clears every link to the
-- erased subject (subject_id) and marks the rows erased.
--
-- Not a numbered migration: infra/lib.sh (oss_pg_migrate) applies this file
-- after the numbered ones whenever its content changed, and it brings every
-- existing read-model schema to this shape (each statement is idempotent:
-- CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT EXISTS). To change a read
-- model, change it here; a new table or column reaches a running rm by the
-- next migrate and its rows by `oss rebuild`. Run as oss_owner.
CREATE OR REPLACE FUNCTION oss.rm_define(s text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', s);
    -- one row per account; GET /v1/accounts/{id} reads it
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.accounts (
        account_id    text PRIMARY KEY,
        stream_id     text NOT NULL,
        status        text NOT NULL,          -- see status below
        scale         text NOT NULL,          -- 'umk', 'non_umk', 'unspecified'
        actor_type    text NOT NULL,          -- '01'..'04'
        country       text NOT NULL,          -- ISO 3166-1 alpha-2
        terms_version text NOT NULL,
        subject_id    text NOT NULL,          -- data subject (sealed data key)
        registered_at timestamptz NOT NULL,   -- the event's occurred_at
        version       bigint NOT NULL,        -- stream version last applied
        updated_at    timestamptz NOT NULL DEFAULT now())$q$, s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS accounts_stream ON %I.accounts (stream_id)', s);
    -- events applied to the row: 1 per AccountRegistered applied (tests
    -- assert exactly-once with it, live and after a rebuild)
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS apply_count bigint NOT NULL DEFAULT 1', s);
    -- status = registered | pending (activation issued) | active
    -- (activated) | locked (too many wrong codes) | restricted (the OSS
    -- authority restricted the account's access; restricted_* say when, by
    -- whom and why, until lifted: then the owner's status again) |
    -- terminated (access ended for the whole account); status_at =
    -- occurred_at of the event that set the owner's status or terminated
    -- the account; owner = the current owner's principal id (first owner:
    -- account_id)
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS status_at timestamptz', s);
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS owner_principal_id text', s);
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS termination_reason text', s);
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS region_code text', s);
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS legacy_id text', s);
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS erased_at timestamptz', s);
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS restricted_at timestamptz', s);
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS restricted_by text', s);
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS restriction_reason text', s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS accounts_subject ON %I.accounts (subject_id)', s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS accounts_owner ON %I.accounts (owner_principal_id)', s);
    -- every principal (person who signs in): its credential lifecycle on
    -- "access-<principal_id>" (registered | pending | active | locked |
    -- revoked | terminated)
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.principals (
        principal_id text PRIMARY KEY,
        kind         text NOT NULL DEFAULT '',  -- 'business' | 'government'
        account_id   text,                      -- business: the account
        subject_id   text NOT NULL DEFAULT '',
        status       text NOT NULL DEFAULT 'registered',
        status_at    timestamptz,
        created_at   timestamptz,
        password_set_at timestamptz,
        last_sign_in_at timestamptz,
        erased_at    timestamptz,
        version      bigint NOT NULL DEFAULT 0)$q$, s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS principals_subject ON %I.principals (subject_id)', s);
    -- delegates of an account (the owner is accounts.owner_principal_id)
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.account_members (
        account_id   text NOT NULL,
        principal_id text NOT NULL,
        role         text NOT NULL,             -- 'owner' | 'preparer' | 'viewer'
        status       text NOT NULL,             -- 'active' | 'removed'
        added_at     timestamptz NOT NULL,
        added_by     text NOT NULL DEFAULT '',
        removed_at   timestamptz,
        removed_by   text,
        reason       text,
        PRIMARY KEY (account_id, principal_id))$q$, s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS account_members_principal ON %I.account_members (principal_id)', s);
    -- written hand-over requests
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.handover_requests (
        request_id        text PRIMARY KEY,
        account_id        text NOT NULL,
        status            text NOT NULL,        -- 'filed' | 'objected' | 'approved' | 'rejected'
        filed_by          text NOT NULL DEFAULT '',
        evidence_ref      text NOT NULL DEFAULT '',
        reason            text,
        new_owner_principal_id text,
        previous_owner_principal_id text,
        filed_at          timestamptz NOT NULL,
        cooling_off_until timestamptz,
        objected_at       timestamptz,
        objected_by       text,
        decided_at        timestamptz,
        decided_by        text,
        decision_reason   text,
        updated_at        timestamptz NOT NULL)$q$, s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS handover_requests_account ON %I.handover_requests (account_id)', s);
    -- government principals with an officer / admin role
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.officers (
        principal_id text PRIMARY KEY,
        role         text NOT NULL DEFAULT 'officer',
        institution  text NOT NULL DEFAULT '',
        sector       text,
        region       text,
        status       text NOT NULL,             -- 'active' | 'revoked'
        subject_id   text NOT NULL DEFAULT '',
        created_at   timestamptz NOT NULL,
        created_by   text NOT NULL DEFAULT '',
        revoked_at   timestamptz,
        revoked_by   text,
        revoke_reason text,
        erased_at    timestamptz)$q$, s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS officers_institution ON %I.officers (institution)', s);
    -- the last outcome of every message (trigger event x channel) of the
    -- account's delivery stream "delivery-<account_id>"
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.delivery_status (
        trigger_event_id text NOT NULL,         -- causation of the outcomes
        channel      text NOT NULL,             -- 'email' | 'whatsapp'
        account_id   text NOT NULL,
        kind         text NOT NULL DEFAULT '',  -- 'activation', 'registration', ...
        trigger_type text NOT NULL DEFAULT '',
        state        text NOT NULL,             -- 'queued' | 'handed' | 'retrying' | 'failed'
        attempt      integer NOT NULL DEFAULT 0,
        reply_code   integer NOT NULL DEFAULT 0,
        reply_text   text NOT NULL DEFAULT '',  -- addresses already removed
        reason       text NOT NULL DEFAULT '',
        permanent    boolean NOT NULL DEFAULT false,
        next_attempt_at timestamptz,
        queued_at    timestamptz,
        updated_at   timestamptz NOT NULL,      -- occurred_at of the last outcome
        version      bigint NOT NULL,           -- delivery stream version
        PRIMARY KEY (trigger_event_id, channel))$q$, s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS delivery_status_account ON %I.delivery_status (account_id)', s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS delivery_status_state ON %I.delivery_status (state, updated_at)', s);
    -- subjects erased (SubjectErased): a registration applied later does
    -- not bring the subject back
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.erased_subjects (
        subject_id text PRIMARY KEY,
        erased_at  timestamptz NOT NULL,
        reason     text NOT NULL DEFAULT '')$q$, s);
    -- dedupe: the last applied version of every stream
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.applied_streams (
        stream_id text PRIMARY KEY,
        version   bigint NOT NULL)$q$, s);
    -- Kafka positions, written with the read-model changes they produced
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.positions (
        name        text NOT NULL,
        cluster_id  text NOT NULL,
        topic       text NOT NULL,
        partition   integer NOT NULL,
        next_offset bigint NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, topic, partition))$q$, s);
    EXECUTE format('ALTER TABLE %I.positions ADD COLUMN IF NOT EXISTS high_watermark bigint NOT NULL DEFAULT 0', s);
    -- journal catch-up cursor: last (xid, position) applied from the journal
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.catchup (
        name       text PRIMARY KEY,
        xid        xid8 NOT NULL,
        position   bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())$q$, s);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO oss_app', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO oss_app', s);
END $$;
REVOKE ALL ON FUNCTION oss.rm_define(text) FROM PUBLIC;

-- Every existing read-model schema, then the served one.
DO $$
DECLARE s text;
BEGIN
    FOR s IN SELECT a.schemaname FROM pg_tables a
             JOIN pg_tables b ON b.schemaname = a.schemaname
              AND b.tablename = 'applied_streams'
             WHERE a.tablename = 'accounts' AND a.tableowner = current_user
    LOOP
        PERFORM oss.rm_define(s);
        -- accounts applied before owners were kept: their first owner
        EXECUTE format('UPDATE %I.accounts SET owner_principal_id = account_id WHERE owner_principal_id IS NULL', s);
    END LOOP;
    PERFORM oss.rm_define('rm');
END $$;
