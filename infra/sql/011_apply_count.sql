-- Read models: accounts.apply_count, the number of events applied to the row
-- (every real application adds one; a skipped duplicate adds nothing), so
-- tests can assert exactly-once where the upserts themselves are idempotent:
-- a stream with one AccountRegistered event must show apply_count = 1, live
-- and after a rebuild alike. Redefines oss.rm_define() (010) so that every
-- schema made from now on has the column. Run as oss_owner.
CREATE OR REPLACE FUNCTION oss.rm_define(s text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', s);
    -- one row per account; GET /v1/accounts/{id} reads it
    EXECUTE format($q$CREATE TABLE IF NOT EXISTS %I.accounts (
        account_id    text PRIMARY KEY,
        stream_id     text NOT NULL,
        status        text NOT NULL,          -- 'registered'
        scale         text NOT NULL,          -- 'umk', 'non_umk', 'unspecified'
        actor_type    text NOT NULL,          -- '01'..'04'
        country       text NOT NULL,          -- ISO 3166-1 alpha-2
        terms_version text NOT NULL,
        subject_id    text NOT NULL,          -- data subject (sealed data key)
        registered_at timestamptz NOT NULL,   -- the event's occurred_at
        version       bigint NOT NULL,        -- stream version last applied
        updated_at    timestamptz NOT NULL DEFAULT now())$q$, s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS accounts_stream ON %I.accounts (stream_id)', s);
    -- events applied to the row (011): 1 per AccountRegistered applied; the
    -- projector always sets it, the default covers a projector older than
    -- 011 still running while the migration is applied (one application)
    EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS apply_count bigint NOT NULL DEFAULT 1', s);
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
    -- the partition's high watermark as last seen by the projector: lag =
    -- high_watermark - next_offset (for the /metrics projector lag)
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

-- Existing read-model schemas ("rm", and any rm_new or test schema alive
-- now): their rows were applied before the count existed; they count as
-- applied once (a rebuild gives the same).
DO $$
DECLARE s text;
BEGIN
    FOR s IN SELECT a.schemaname FROM pg_tables a
             JOIN pg_tables b ON b.schemaname = a.schemaname
              AND b.tablename = 'applied_streams'
             WHERE a.tablename = 'accounts' AND a.tableowner = current_user
    LOOP
        EXECUTE format('ALTER TABLE %I.accounts ADD COLUMN IF NOT EXISTS apply_count bigint NOT NULL DEFAULT 1', s);
    END LOOP;
    PERFORM oss.rm_define('rm');
END $$;
