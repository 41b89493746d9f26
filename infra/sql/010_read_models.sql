-- Read models of the projector (consumers/projector): their tables are
-- defined once, by oss.rm_define() in infra/sql/read_models.sql, which
-- oss_pg_migrate applies after the numbered migrations. (This migration
-- once held the first definition.) Run as oss_owner.
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
