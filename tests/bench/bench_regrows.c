/* regrows: the raw baseline of a registration (issue 11, item 2): the rows
 * one registration writes, in the same tables' shapes (scratch copies made
 * with CREATE TABLE ... (LIKE oss.<t> INCLUDING ALL): the same columns,
 * defaults, constraints and indexes), the same count, as ONE transaction
 * per registration from `clients` connections, each transaction sent in one
 * pipeline (one round trip, as an efficient hand-written writer would):
 *   3 journal rows (payloads of 531, 151 and 92 bytes, 32-byte hashes),
 *   1 identity claim, 1 subject key, 1 principal, 1 account scope,
 *   3 account look-ups, 1 grant, the DELETE of earlier pending codes,
 *   1 activation secret, 1 sealed delivery; COMMIT.
 * No decision, no reads, no hashing, no sealing, no HTTP: what is left is
 * PostgreSQL's cost of storing a registration.
 *
 *   oss-bench regrows --clients N --seconds S */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *const tables[] = {
    "journal",    "identity_claims",    "subject_keys",
    "principals", "account_scope",      "account_lookup",
    "grants",     "activation_secrets", "deliveries"};

/* The statements of one registration, $1 = account id, $2 = subject uuid,
 * $3 = delivery uuid, $4..$6 = three event uuids. */
static const char *const stmts[] = {
    "INSERT INTO oss_bench.r_journal (event_id, stream_id, stream_type,"
    " version, occurred_at, recorded_at, actor_kind, actor_id,"
    " correlation_id, causation_id, cause_id, reason, software_version,"
    " payload_type, schema_version, payload, prev_hash, hash)"
    " SELECT e::uuid, s, 'account', v, now(), now(), 1, $1, $1, '', '',"
    " NULL, 'oss/bench', t, 1, oss_bench.payload_of(n), p, h FROM (VALUES"
    " ($4, 'account-' || $1, 1::bigint, 'oss.v1.AccountRegistered', 531),"
    " ($5, 'account-' || $1, 2::bigint, 'oss.v1.TermsAccepted', 151),"
    " ($6, 'access-' || $1, 1::bigint, 'oss.v1.ActivationIssued', 92))"
    " AS x(e, s, v, t, n), LATERAL (SELECT sha256(e::bytea) AS h,"
    " sha256(s::bytea) AS p) hh",
    "INSERT INTO oss_bench.r_identity_claims (kind, digest, stream_id,"
    " subject_id) VALUES ('nik', sha256($1::bytea), 'account-' || $1,"
    " $2::uuid)",
    "INSERT INTO oss_bench.r_subject_keys (subject_id, master_key_id,"
    " wrapped_key) VALUES ($2::uuid, 'k1', sha256($2::bytea) ||"
    " sha256($1::bytea))",
    "INSERT INTO oss_bench.r_principals (principal_id, kind, subject_id,"
    " contact_stream) VALUES ($1, 'business', $2::uuid, 'account-' || $1)",
    "INSERT INTO oss_bench.r_account_scope (account_id, region) VALUES"
    " ($1, '3171010001')",
    "INSERT INTO oss_bench.r_account_lookup (kind, digest, stream_id)"
    " VALUES ('email', sha256(('e' || $1)::bytea), 'account-' || $1),"
    " ('phone', sha256(('p' || $1)::bytea), 'account-' || $1),"
    " ('nik', sha256(('n' || $1)::bytea), 'account-' || $1)",
    "INSERT INTO oss_bench.r_grants (principal_id, role, account_id)"
    " VALUES ($1, 'owner', $1)",
    "DELETE FROM oss_bench.r_deliveries WHERE stream_id = 'access-' || $1"
    " AND kind = 'activation' AND delivered_at IS NULL",
    "INSERT INTO oss_bench.r_activation_secrets (stream_id, delivery_id,"
    " otp_hmac, link_hmac, key_id, expires_at) VALUES ('access-' || $1,"
    " $3::uuid, sha256($3::bytea), sha256($1::bytea), 'k1', now() +"
    " interval '15 minutes')",
    "INSERT INTO oss_bench.r_deliveries (delivery_id, event_id, stream_id,"
    " subject_id, channel, sealed_secret, expires_at) VALUES ($3::uuid,"
    " $6::uuid, 'access-' || $1, $2::uuid, 'email', sha256($3::bytea) ||"
    " sha256($2::bytea) || sha256($1::bytea), now() + interval '15 minutes')",
};
#define NSTMTS (sizeof stmts / sizeof stmts[0])

typedef struct rr_state {
    PGconn *c;
} rr_state_t;

static void *
rr_init(void *ctx, int idx) {
    (void)ctx;
    rr_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->c = PQconnectdb(bench_env("OSS_PG_ADMIN_URL"));
    if (PQstatus(s->c) != CONNECTION_OK) {
        fprintf(stderr, "oss-bench: regrows client %d: %s", idx,
                PQerrorMessage(s->c));
        goto fail;
    }
    for (size_t i = 0; i < NSTMTS; i++) {
        char name[8];
        snprintf(name, sizeof name, "r%zu", i);
        static const Oid text6[6] = {25, 25, 25, 25, 25, 25}; /* text */
        PGresult *r = PQprepare(s->c, name, stmts[i], 6, text6);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "oss-bench: could not prepare: %s",
                    PQerrorMessage(s->c));
            PQclear(r);
            goto fail;
        }
        PQclear(r);
    }
    if (!PQenterPipelineMode(s->c))
        goto fail;
    return s;
fail:
    PQfinish(s->c);
    free(s);
    return NULL;
}

static int
rr_op(void *st) {
    rr_state_t *s = st;
    char acc[40], sub[40], del[40], e[3][40];
    bench_uuid7(acc);
    bench_uuid7(sub);
    bench_uuid7(del);
    for (int i = 0; i < 3; i++)
        bench_uuid7(e[i]);
    const char *v[6] = {acc, sub, del, e[0], e[1], e[2]};
    int ok = PQsendQueryParams(s->c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    for (size_t i = 0; ok && i < NSTMTS; i++) {
        char name[8];
        snprintf(name, sizeof name, "r%zu", i);
        ok = PQsendQueryPrepared(s->c, name, 6, v, NULL, NULL, 0);
    }
    ok = ok && PQsendQueryParams(s->c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
    ok = ok && PQpipelineSync(s->c);
    if (!ok)
        return -1;
    int good = 1;
    for (size_t i = 0; i < NSTMTS + 2; i++) {
        PGresult *r;
        while ((r = PQgetResult(s->c))) {
            ExecStatusType t = PQresultStatus(r);
            if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
                if (good)
                    fprintf(stderr, "oss-bench regrows: %s",
                            PQresultErrorMessage(r));
                good = 0;
            }
            PQclear(r);
        }
    }
    PGresult *r = PQgetResult(s->c); /* the sync */
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
        good = 0;
    PQclear(r);
    return good ? 0 : -1;
}

static void
rr_fini(void *st) {
    rr_state_t *s = st;
    PQfinish(s->c);
    free(s);
}

int
bench_cmd_regrows(int argc, char **argv) {
    int clients = atoi(bench_opt(argc, argv, "--clients", "1"));
    double seconds = atof(bench_opt(argc, argv, "--seconds", "5"));
    if (clients < 1 || clients > 256 || seconds <= 0 || seconds > 120) {
        fprintf(stderr, "oss-bench regrows: bad options\n");
        return 2;
    }
    PGconn *c = bench_pg(bench_env("OSS_PG_ADMIN_URL"));
    bench_exec(c, "SET client_min_messages = warning", 0);
    bench_exec(c, "CREATE SCHEMA IF NOT EXISTS oss_bench", 0);
    /* payload bytes of a given length without pgcrypto */
    bench_exec(c,
               "CREATE OR REPLACE FUNCTION oss_bench.payload_of(n "
               "int) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$ SELECT "
               "substring(decode(repeat(md5(n::text), 40), 'hex') from 1 for "
               "n) $$",
               0);
    char sql[512];
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql,
                 "DROP TABLE IF EXISTS oss_bench.r_%s; CREATE TABLE "
                 "oss_bench.r_%s (LIKE oss.%s INCLUDING ALL)",
                 tables[i], tables[i], tables[i]);
        bench_exec(c, sql, 0);
    }
    /* the grant ids from a sequence of the bench's own */
    bench_exec(c,
               "CREATE SEQUENCE IF NOT EXISTS oss_bench.r_grants_seq; ALTER "
               "TABLE oss_bench.r_grants ALTER grant_id SET DEFAULT "
               "nextval('oss_bench.r_grants_seq')",
               0);
    int64_t ok = 0, failed = 0;
    double el = 0;
    int rc = bench_run_clients(clients, seconds, 10000000, rr_init, rr_op,
                               rr_fini, NULL, &ok, &failed, &el);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS oss_bench.r_%s",
                 tables[i]);
        bench_exec(c, sql, 1);
    }
    PQfinish(c);
    printf("RESULT op=regrows clients=%d ok=%lld failed=%lld seconds=%.3f "
           "rate=%.1f\n",
           clients, (long long)ok, (long long)failed, el,
           el > 0 ? (double)ok / el : 0);
    return rc == 0 && ok > 0 ? 0 : 1;
}
