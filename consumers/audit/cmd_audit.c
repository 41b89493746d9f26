/* `oss audit history|verify|checkpoint`: the journal's integrity tools. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "app/privacy.h"
#include "audit.h"
#include "cli.h"
#include "journal/journal.h"

static const char audit_usage[] =
    "usage: oss audit <command> [options]\n"
    "\n"
    "commands:\n"
    "  history [--reveal] STREAM     print a stream's events (personal fields\n"
    "                                sealed) and verify its hash chain\n"
    "  verify [STREAM] [--against SIZE:DIGEST]\n"
    "                                verify one stream's or every stream's "
    "hash\n"
    "                                chain, and optionally a recorded "
    "checkpoint\n"
    "  checkpoint [--wait-ms N]      print SIZE:DIGEST of the journal now, to "
    "be\n"
    "                                recorded outside the database\n"
    "\n"
    "Exit status: 0 sound, 1 a break was found (the first broken event is\n"
    "named), 2 usage error, 3 could not run.\n"
    "Run `oss audit <command> --help` for details.\n";

static const char history_usage[] =
    "usage: oss audit history [--reveal --reason TEXT] STREAM\n"
    "\n"
    "For STREAM = account-<id>: the account's whole story, its account, "
    "access,\n"
    "delivery and subject streams and its principals' access streams merged "
    "in\n"
    "time order, one line per event: time (UTC) | actor kind:id | what "
    "happened\n"
    "| reason | event; then every stream's chain verdict.\n"
    "Any other STREAM: every event of it from the journal: time, version, "
    "event\n"
    "type, actor kind:id, a summary and the hash verdict. Personal fields "
    "(NIK, name,\n"
    "birth date, e-mail, phone) print as [sealed]. With --reveal they are\n"
    "unsealed with the subject's data key (needs the master key file named by\n"
    "crypto.master_key_file) and printed masked, e.g. nik: 3171********9901;\n"
    "a shredded subject prints [shredded] ([erased] in an account's story).\n"
    "--reveal needs --reason: before a subject's fields are unsealed, the "
    "read\n"
    "is recorded as the API records a staff read (a PersonalDataRead event on\n"
    "subject-<id>, actor operator cli:$USER, and a row the subject sees in\n"
    "GET /v1/me/personal-data-access); a subject whose read cannot be\n"
    "recorded stays [sealed] and the command exits 3.\n"
    "Exits 1 when a chain is broken.\n";

static const char verify_usage[] =
    "usage: oss audit verify [STREAM] [--against SIZE:DIGEST] [--all-breaks]\n"
    "\n"
    "Recomputes every event's hash from its content and checks each stream's\n"
    "chain (versions 1..n without gaps, each prev_hash the previous hash).\n"
    "Without STREAM, every stream is verified. With --against, also "
    "recomputes\n"
    "the digest of a checkpoint printed earlier by `oss audit checkpoint`: "
    "any\n"
    "event up to SIZE changed, removed or re-chained (even by a superuser who\n"
    "recomputed the hashes) makes it fail.\n"
    "Exits 1 naming the first broken event (stream, version, event id);\n"
    "with --all-breaks, every broken event is listed first.\n";

static const char checkpoint_usage[] =
    "usage: oss audit checkpoint [--wait-ms N]\n"
    "\n"
    "Prints SIZE:DIGEST: SIZE is the largest journal position committed now "
    "and\n"
    "DIGEST the SHA-256 chain over (position, hash) of every event up to it, "
    "in\n"
    "position order (each hash checked against its event's content first).\n"
    "Record it outside the database; `oss audit verify --against SIZE:DIGEST`\n"
    "later proves nothing up to SIZE was changed or removed. Waits up to N ms\n"
    "(default 30000) for transactions still running to end.\n";

static void
print_break(const char *cmd, const oss_audit_break_t *b, const oss_err_t *err) {
    if (b->event_id[0])
        printf("BROKEN stream=%s version=%" PRId64 " event=%s position=%" PRId64
               ": %s\n",
               b->stream_id, b->version, b->event_id, b->position, b->what);
    else
        printf("BROKEN %s\n", b->what);
    fprintf(stderr, "oss: audit %s: %s\n", cmd, err->msg);
}

static int
finish(const char *cmd, oss_code_t rc, const oss_audit_break_t *b,
       const oss_err_t *err) {
    if (rc == OSS_OK)
        return OSS_CLI_OK;
    if (rc == OSS_ECORRUPT) {
        print_break(cmd, b, err);
        return OSS_CLI_FAILED;
    }
    fprintf(stderr, "oss: audit %s: %s\n", cmd, err->msg);
    return rc == OSS_ENOTFOUND ? OSS_CLI_FAILED : OSS_CLI_ERROR;
}

/* The console's reveal: each subject's read recorded on the journal. */
typedef struct cli_reveal {
    oss_journal_t *j;
    const char *reason;
    const char *actor;
    const char *stream;
} cli_reveal_t;

static oss_code_t
record_read(void *ctx, const char *subject_id, oss_err_t *err) {
    cli_reveal_t *cr = ctx;
    const char *account =
        strncmp(cr->stream, "account-", 8) == 0 ? cr->stream + 8 : "";
    oss_app_pd_read_t r = {.subject_id = subject_id,
                           .account_id = account,
                           .reader = cr->actor,
                           .role = "console",
                           .reason = cr->reason,
                           .endpoint = "oss audit history --reveal",
                           .actor_kind = OSS_ACTOR_OPERATOR,
                           .correlation_id = "oss-cli-audit-history"};
    oss_code_t rc = oss_app_pd_read_record(cr->j, &r, err);
    if (rc != OSS_OK)
        return rc;
    if (r.outcome != OSS_JOURNAL_APPENDED) {
        *err = r.err;
        return r.err.code ? r.err.code : OSS_EINTERNAL;
    }
    return OSS_OK;
}

static int
cmd_history(int argc, char **argv, oss_config_t *cfg) {
    static const struct option opts[] = {{"reveal", no_argument, 0, 'r'},
                                         {"reason", required_argument, 0, 'R'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int reveal = 0, c;
    const char *reason = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+rR:h", opts, NULL)) != -1) {
        if (c == 'r')
            reveal = 1;
        else if (c == 'R')
            reason = optarg;
        else if (c == 'h') {
            fputs(history_usage, stdout);
            return OSS_CLI_OK;
        } else {
            fputs(history_usage, stderr);
            return OSS_CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(history_usage, stderr);
        return OSS_CLI_USAGE;
    }
    if (reveal && (!reason || !*reason || strlen(reason) > 500)) {
        fputs("oss: audit history: --reveal needs --reason TEXT (at most 500 "
              "characters): the read of personal data is recorded\n",
              stderr);
        return OSS_CLI_USAGE;
    }
    oss_keyring_t master;
    oss_err_t err = {0};
    oss_audit_break_t brk = {0};
    char actor[OSS_ID_MAX];
    cli_reveal_t cr = {.reason = reason,
                       .actor = oss_cli_actor(actor, sizeof actor),
                       .stream = argv[optind]};
    oss_audit_reveal_t rv = {
        .master = &master, .record = record_read, .record_ctx = &cr};
    if (reveal &&
        oss_keyring_load(oss_config_str(cfg, "crypto.master_key_file"), &master,
                         &err) != OSS_OK) {
        fprintf(stderr, "oss: audit history: %s\n", err.msg);
        return OSS_CLI_ERROR;
    }
    if (reveal && oss_journal_open(oss_config_str(cfg, "pg.url"), &cr.j,
                                   &err) != OSS_OK) {
        fprintf(stderr, "oss: audit history: %s\n", err.msg);
        OPENSSL_cleanse(&master, sizeof master);
        return OSS_CLI_ERROR;
    }
    PGconn *conn = oss_cli_connect(cfg, NULL);
    if (!conn) {
        oss_journal_free(cr.j);
        return OSS_CLI_ERROR;
    }
    oss_code_t rc = oss_audit_history(conn, argv[optind], stdout,
                                      reveal ? &rv : NULL, &brk, &err);
    fflush(stdout);
    PQfinish(conn);
    oss_journal_free(cr.j);
    if (reveal)
        OPENSSL_cleanse(&master, sizeof master);
    if (reveal && rv.unrecorded) {
        fprintf(stderr,
                "oss: audit history: %zu subject(s) left sealed: the read "
                "could not be recorded (%s)\n",
                rv.unrecorded, rv.record_err.msg);
        if (rc == OSS_OK)
            return OSS_CLI_ERROR;
    }
    return finish("history", rc, &brk, &err);
}

static int
cmd_verify(int argc, char **argv, oss_config_t *cfg) {
    static const struct option opts[] = {{"against", required_argument, 0, 'a'},
                                         {"all-breaks", no_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *against = NULL;
    int c, all = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:kh", opts, NULL)) != -1) {
        if (c == 'a')
            against = optarg;
        else if (c == 'k')
            all = 1;
        else if (c == 'h') {
            fputs(verify_usage, stdout);
            return OSS_CLI_OK;
        } else {
            fputs(verify_usage, stderr);
            return OSS_CLI_USAGE;
        }
    }
    if (argc - optind > 1) {
        fputs(verify_usage, stderr);
        return OSS_CLI_USAGE;
    }
    const char *stream = optind < argc ? argv[optind] : NULL;
    oss_err_t err = {0};
    oss_audit_break_t brk = {0};
    oss_audit_checkpoint_t cp;
    if (against && oss_audit_checkpoint_parse(against, &cp, &err) != OSS_OK) {
        fprintf(stderr, "oss: audit verify: %s\n", err.msg);
        return OSS_CLI_USAGE;
    }
    PGconn *conn = oss_cli_connect(cfg, NULL);
    if (!conn)
        return OSS_CLI_ERROR;
    int64_t nstreams = 0, nevents = 0, nbreaks = 0;
    oss_code_t rc =
        oss_audit_verify_all_breaks(conn, stream, all ? stdout : NULL, &nbreaks,
                                    &nstreams, &nevents, &brk, &err);
    if (all && rc == OSS_ECORRUPT) {
        printf("%" PRId64 " broken event(s) in %" PRId64 " streams, %" PRId64
               " events; the first:\n",
               nbreaks, nstreams, nevents);
    }
    if (rc == OSS_OK) {
        if (stream)
            printf("stream %s: chain ok, %" PRId64 " events\n", stream,
                   nevents);
        else
            printf("journal: %" PRId64 " streams, %" PRId64
                   " events, every chain ok\n",
                   nstreams, nevents);
    }
    if (rc == OSS_OK && against) {
        rc = oss_audit_verify_against(conn, &cp, &brk, &err);
        if (rc == OSS_OK)
            printf("checkpoint %" PRId64 ": digest matches\n", cp.size);
    }
    PQfinish(conn);
    return finish("verify", rc, &brk, &err);
}

static int
cmd_checkpoint(int argc, char **argv, oss_config_t *cfg) {
    static const struct option opts[] = {{"wait-ms", required_argument, 0, 'w'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int wait_ms = 30000, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "w:h", opts, NULL)) != -1) {
        if (c == 'w')
            wait_ms = atoi(optarg);
        else if (c == 'h') {
            fputs(checkpoint_usage, stdout);
            return OSS_CLI_OK;
        } else {
            fputs(checkpoint_usage, stderr);
            return OSS_CLI_USAGE;
        }
    }
    if (optind != argc) {
        fputs(checkpoint_usage, stderr);
        return OSS_CLI_USAGE;
    }
    oss_err_t err = {0};
    oss_audit_break_t brk = {0};
    oss_audit_checkpoint_t cp;
    PGconn *conn = oss_cli_connect(cfg, NULL);
    if (!conn)
        return OSS_CLI_ERROR;
    oss_code_t rc = oss_audit_checkpoint(conn, wait_ms, &cp, &brk, &err);
    PQfinish(conn);
    if (rc == OSS_OK) {
        char text[128];
        oss_audit_checkpoint_format(&cp, text, sizeof text);
        printf("%s\n", text);
        fprintf(stderr,
                "oss: checkpoint covers %" PRId64
                " events up to position %" PRId64 "\n",
                cp.events, cp.size);
        if (cp.broken)
            fprintf(stderr,
                    "oss: warning: %" PRId64 " of them already fail their "
                    "hash (first: stream=%s version=%" PRId64 " event=%s); "
                    "`oss audit verify` names them\n",
                    cp.broken, brk.stream_id, brk.version, brk.event_id);
    }
    return finish("checkpoint", rc, &brk, &err);
}

int
oss_cli_audit(int argc, char **argv, const char *config_path) {
    if (argc < 2 || oss_cli_is_help(argv[1])) {
        fputs(audit_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? OSS_CLI_USAGE : OSS_CLI_OK;
    }
    int (*fn)(int, char **, oss_config_t *) = NULL;
    if (strcmp(argv[1], "history") == 0)
        fn = cmd_history;
    else if (strcmp(argv[1], "verify") == 0)
        fn = cmd_verify;
    else if (strcmp(argv[1], "checkpoint") == 0)
        fn = cmd_checkpoint;
    if (!fn) {
        fprintf(stderr, "oss: audit: unknown command \"%s\"\n\n%s", argv[1],
                audit_usage);
        return OSS_CLI_USAGE;
    }
    /* --help needs no configuration */
    for (int i = 2; i < argc; i++)
        if (oss_cli_is_help(argv[i]))
            return fn(2, (char *[]){argv[1], "--help", NULL}, NULL);
    oss_config_t *cfg = oss_cli_load_config(config_path);
    if (!cfg)
        return OSS_CLI_ERROR;
    int st = fn(argc - 1, argv + 1, cfg);
    oss_config_free(cfg);
    return st;
}
