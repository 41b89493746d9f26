-- Test data for the projector tests: appends :n AccountRegistered events,
-- one new stream each ("account-<:prefix>-<i>", version 1), through the
-- application role, with a valid hash chain (src/core/event.h canonical
-- layout), so `oss audit verify` holds over them. Variables: prefix, n,
-- start (first index). Each run is one short transaction.
CREATE FUNCTION pg_temp.f(t text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
$$ SELECT int4send(octet_length(convert_to(t, 'UTF8'))) || convert_to(t, 'UTF8') $$;
CREATE FUNCTION pg_temp.pb(tag int, t text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
$$ SELECT set_byte('\x00'::bytea, 0, tag) || set_byte('\x00'::bytea, 0, octet_length(convert_to(t, 'UTF8')))
          || convert_to(t, 'UTF8') $$;

WITH g AS MATERIALIZED (
    SELECT gen_random_uuid() AS event_id,
           :'prefix' || '-' || lpad(i::text, 7, '0') AS aid,
           gen_random_uuid()::text AS subject,
           date_trunc('microseconds', clock_timestamp()) AS ts,
           :'prefix' AS cid
    FROM generate_series(:start, :start + :n - 1) AS i
), e AS (
    SELECT g.*, 'account-' || g.aid AS stream_id,
           (extract(epoch FROM g.ts) * 1000000)::bigint AS us,
           pg_temp.pb(10, g.aid) || '\x1001'::bytea || pg_temp.pb(26, '02')
             || pg_temp.pb(34, g.subject) || pg_temp.pb(90, '2025-06')
             || pg_temp.pb(98, 'ID') AS payload,
           '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea AS prev
    FROM g
)
INSERT INTO oss.journal (event_id, stream_id, stream_type, version,
    occurred_at, recorded_at, actor_kind, actor_id, correlation_id,
    causation_id, cause_id, reason, software_version, payload_type,
    schema_version, payload, prev_hash, hash)
SELECT e.event_id, e.stream_id, 'account', 1, e.ts, e.ts, 3, 'test-gen',
       e.cid, '', '', NULL, 'oss-test-gen', 'oss.v1.AccountRegistered', 1,
       e.payload, e.prev,
       sha256(convert_to('oss.event.v1', 'UTF8')
              || pg_temp.f(e.event_id::text) || pg_temp.f(e.stream_id)
              || pg_temp.f('account')
              || int4send(8) || int8send(1)
              || int4send(8) || int8send(e.us)
              || int4send(8) || int8send(e.us)
              || int4send(8) || int8send(3)
              || pg_temp.f('test-gen') || pg_temp.f(e.cid) || pg_temp.f('')
              || pg_temp.f('') || pg_temp.f('') || pg_temp.f('oss-test-gen')
              || pg_temp.f('oss.v1.AccountRegistered')
              || int4send(8) || int8send(1)
              || int4send(octet_length(e.payload)) || e.payload
              || int4send(32) || e.prev)
FROM e;
