-- Test-only generator of hash-chained journal events, shared by the relay's
-- e2e tests: pg_temp.gen(stream type, stream prefix, streams, versions per
-- stream, tag) writes one transaction of events whose actor is 'test-<tag>',
-- correlation id <tag> and payload type 'test.v1.<Tag>'.
CREATE FUNCTION pg_temp.lp(b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE
    AS $$ SELECT int4send(length(b)) || b $$;
CREATE FUNCTION pg_temp.lt(t text) RETURNS bytea LANGUAGE sql IMMUTABLE
    AS $$ SELECT pg_temp.lp(convert_to(coalesce(t, ''), 'UTF8')) $$;
CREATE FUNCTION pg_temp.li(i bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
    AS $$ SELECT int4send(8) || int8send(i) $$;
-- one transaction: nstreams new streams of nversions events each, chained
-- with the canonical layout of src/core/event.h
CREATE FUNCTION pg_temp.gen(stype text, prefix text, nstreams int, nversions int,
                             tag text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    sid text; eid uuid; prev bytea; h bytea; us bigint; ts timestamptz;
    actor text := 'test-' || tag; ptype text := 'test.v1.' || initcap(tag);
    payload bytea := '\x0a02ff00'::bytea;
BEGIN
    FOR s IN 1..nstreams LOOP
        sid := prefix || '-' || s;
        prev := decode(repeat('00', 32), 'hex');
        FOR v IN 1..nversions LOOP
            eid := gen_random_uuid();
            ts := date_trunc('milliseconds', clock_timestamp());
            us := (extract(epoch FROM ts) * 1000)::bigint * 1000;
            h := sha256(convert_to('oss.event.v1', 'UTF8')
                || pg_temp.lt(eid::text) || pg_temp.lt(sid) || pg_temp.lt(stype)
                || pg_temp.li(v) || pg_temp.li(us) || pg_temp.li(us)
                || pg_temp.li(3) || pg_temp.lt(actor)
                || pg_temp.lt(tag) || pg_temp.lt('') || pg_temp.lt('')
                || pg_temp.lt(NULL) || pg_temp.lt('oss-e2e')
                || pg_temp.lt(ptype) || pg_temp.li(1)
                || pg_temp.lp(payload) || pg_temp.lp(prev));
            INSERT INTO oss.journal (event_id, stream_id, stream_type, version,
                occurred_at, recorded_at, actor_kind, actor_id, correlation_id,
                causation_id, cause_id, reason, software_version, payload_type,
                schema_version, payload, prev_hash, hash)
            VALUES (eid, sid, stype, v, ts, ts, 3, actor, tag,
                '', '', NULL, 'oss-e2e', ptype, 1, payload, prev, h);
            prev := h;
        END LOOP;
    END LOOP;
    PERFORM pg_notify('oss_journal', '');
END $$;
