-- Read models: accounts.apply_count, the number of events applied to the row
-- (every real application adds one; a skipped duplicate adds nothing), so
-- tests can assert exactly-once where the upserts themselves are idempotent:
-- a stream with one AccountRegistered event must show apply_count = 1, live
-- and after a rebuild alike. oss.rm_define()
-- (infra/sql/read_models.sql) gives every schema the column. Run as oss_owner.
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
END $$;
