-- Read models of the projector (consumers/projector). Each read-model schema
-- ("rm" served, "rm_new" while a rebuild runs, test schemas) is made by
-- oss.rm_define() so that all of them are identical. No plaintext personal
-- data here: accounts hold codes, ids and times only. Run as oss_owner.
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

DO $$ BEGIN PERFORM oss.rm_define('rm'); END $$;

-- Progress of `oss-projector --rebuild` / `oss rebuild`, for metrics.
CREATE TABLE IF NOT EXISTS oss.rebuild_progress (
    schema_name text PRIMARY KEY,          -- the schema being rebuilt ("rm")
    state       text NOT NULL,             -- 'running', 'swapped', 'failed'
    done        bigint NOT NULL DEFAULT 0, -- journal events processed
    total       bigint NOT NULL DEFAULT 0, -- journal events to process
    rate        double precision NOT NULL DEFAULT 0,  -- events per second
    eta_seconds double precision NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON oss.rebuild_progress TO oss_app;
