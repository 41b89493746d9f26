/* `oss delivery failed [--since DURATION] [--kind KIND]`: the messages
 * (activation codes, registration mails) whose delivery failed in a window,
 * per account, read from the journal's delivery outcome events
 * (schemas/oss/v1/delivery.proto, streams "delivery-<account_id>"). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/clock.h"
#include "core/utc.h"
#include "journal/scan.h"

#define T_FAILED "oss.v1.DeliveryFailed"

/* One message that failed: the (delivery stream, causation id) pair. */
typedef struct failed {
    char stream_id[OSS_ID_MAX];
    char causation_id[OSS_ID_MAX];
    int64_t failures;
    int64_t last_failed_us;
    int64_t reason_version; /* version of the latest failure */
    char reason[256];
    int64_t last_version; /* the pair's latest event */
    char last_type[64];
    const char *kind; /* "activation", "registration", the type, "?" */
    char cause_type[64];
} failed_t;

typedef struct failed_set {
    failed_t *items;
    size_t n, cap;
} failed_set_t;

static failed_t *
failed_find(failed_set_t *fs, const char *stream_id, const char *causation) {
    for (size_t i = 0; i < fs->n; i++)
        if (!strcmp(fs->items[i].stream_id, stream_id) &&
            !strcmp(fs->items[i].causation_id, causation))
            return &fs->items[i];
    return NULL;
}

/* The DeliveryFailed events of the window, grouped by message. */
static int
failure_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    failed_set_t *fs = ctx;
    const oss_event_t *ev = &row->ev;
    failed_t *f = failed_find(fs, ev->stream_id, ev->causation_id);
    if (!f) {
        if (fs->n == fs->cap) {
            size_t cap = fs->cap ? fs->cap * 2 : 16;
            failed_t *p = realloc(fs->items, cap * sizeof *p);
            if (!p) {
                oss_err_set(err, OSS_ENOMEM, "out of memory");
                return -1;
            }
            fs->items = p;
            fs->cap = cap;
        }
        f = &fs->items[fs->n++];
        memset(f, 0, sizeof *f);
        snprintf(f->stream_id, sizeof f->stream_id, "%s", ev->stream_id);
        snprintf(f->causation_id, sizeof f->causation_id, "%s",
                 ev->causation_id);
    }
    f->failures++;
    if (ev->recorded_at_us > f->last_failed_us)
        f->last_failed_us = ev->recorded_at_us;
    return 0;
}

/* Every event of the failed messages' streams: each message's latest event
 * and latest failure. */
static int
stream_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    failed_set_t *fs = ctx;
    const oss_event_t *ev = &row->ev;
    (void)err;
    failed_t *f = failed_find(fs, ev->stream_id, ev->causation_id);
    if (!f)
        return 0;
    if (ev->version > f->last_version) {
        f->last_version = ev->version;
        snprintf(f->last_type, sizeof f->last_type, "%s", ev->payload_type);
    }
    if (!strcmp(ev->payload_type, T_FAILED) &&
        ev->version > f->reason_version) {
        f->reason_version = ev->version;
        snprintf(f->reason, sizeof f->reason, "%s",
                 ev->reason ? ev->reason : "");
    }
    return 0;
}

/* The events the messages are about (their causation ids). */
static int
cause_row(void *ctx, const oss_journal_row_t *row, oss_err_t *err) {
    failed_set_t *fs = ctx;
    (void)err;
    for (size_t i = 0; i < fs->n; i++)
        if (!strcmp(fs->items[i].causation_id, row->ev.event_id))
            snprintf(fs->items[i].cause_type, sizeof fs->items[i].cause_type,
                     "%s", row->ev.payload_type);
    return 0;
}

static const char *
state_of(const failed_t *f) {
    if (!strcmp(f->last_type, "oss.v1.DeliveryHanded"))
        return "handed";
    if (!strcmp(f->last_type, "oss.v1.DeliveryRetrying"))
        return "retrying";
    if (!strcmp(f->last_type, T_FAILED))
        return "failed";
    return "queued";
}

static int
by_last_failed_desc(const void *a, const void *b) {
    const failed_t *x = a, *y = b;
    return x->last_failed_us < y->last_failed_us   ? 1
           : x->last_failed_us > y->last_failed_us ? -1
                                                   : 0;
}

/* Reads the failed messages of the last `since` seconds into *fs. */
static oss_code_t
read_failed(PGconn *conn, long since, failed_set_t *fs, oss_err_t *err) {
    static const char *const failed_type[] = {T_FAILED};
    oss_code_t rc;
    oss_journal_filter_t f = {.types = failed_type,
                              .ntypes = 1,
                              .recorded_from_us =
                                  oss_now_us() - (int64_t)since * 1000000};
    if ((rc = oss_journal_scan(conn, &f, failure_row, fs, NULL, err)) ||
        fs->n == 0)
        return rc;
    const char **streams = calloc(fs->n, sizeof *streams);
    const char **causes = calloc(fs->n, sizeof *causes);
    if (!streams || !causes) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
        goto done;
    }
    size_t ns = 0;
    for (size_t i = 0; i < fs->n; i++) {
        int seen = 0;
        for (size_t k = 0; k < ns && !seen; k++)
            seen = !strcmp(streams[k], fs->items[i].stream_id);
        if (!seen)
            streams[ns++] = fs->items[i].stream_id;
        causes[i] = fs->items[i].causation_id;
    }
    oss_journal_filter_t fst = {
        .streams = streams, .nstreams = ns, .order = OSS_JOURNAL_ORDER_STREAM};
    oss_journal_filter_t fc = {.event_ids = causes, .nevent_ids = fs->n};
    if ((rc = oss_journal_scan(conn, &fst, stream_row, fs, NULL, err)) ||
        (rc = oss_journal_scan(conn, &fc, cause_row, fs, NULL, err)))
        goto done;
    for (size_t i = 0; i < fs->n; i++) {
        failed_t *m = &fs->items[i];
        if (!strcmp(m->cause_type, "oss.v1.ActivationIssued"))
            m->kind = "activation";
        else if (!strcmp(m->cause_type, "oss.v1.AccountRegistered"))
            m->kind = "registration";
        else
            m->kind = m->cause_type[0] ? m->cause_type : "?";
    }
    qsort(fs->items, fs->n, sizeof *fs->items, by_last_failed_desc);
done:
    free(streams);
    free(causes);
    return rc;
}

static const char delivery_usage[] =
    "usage: oss delivery failed [--since DURATION] [--kind KIND]\n"
    "\n"
    "Lists every message whose delivery failed at least once in the window\n"
    "(default the last hour), newest first: the account, what the message\n"
    "was (activation, registration), how many attempts failed, the last\n"
    "failure, where it stands now (handed = delivered since, retrying,\n"
    "failed = given up) and the last failure's reason. Read from the\n"
    "journal's DeliveryFailed / DeliveryRetrying / DeliveryHanded events.\n"
    "\n"
    "  --since DURATION  e.g. 90s, 30m, 1h (default), 2d\n"
    "  --kind KIND       only activation or registration messages\n"
    "  --pending         only the messages not handed over since\n";

/* "90s", "30m", "1h", "2d", "45" (seconds) -> seconds; -1 when invalid. */
static long
parse_duration(const char *s) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    long mul = 1;
    if (*end == 's')
        mul = 1, end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (*end || v > 3650L * 86400 / mul)
        return -1;
    return v * mul;
}

static int
delivery_failed(int argc, char **argv, const char *config_path) {
    static const struct option opts[] = {
        {"since", required_argument, NULL, 's'},
        {"kind", required_argument, NULL, 'k'},
        {"pending", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long since = 3600;
    const char *kind = "";
    int pending = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:k:ph", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if ((since = parse_duration(optarg)) < 0) {
                fprintf(stderr,
                        "oss: delivery failed: invalid duration \"%s\" "
                        "(use e.g. 90s, 30m, 1h, 2d)\n",
                        optarg);
                return OSS_CLI_USAGE;
            }
            break;
        case 'k':
            if (strcmp(optarg, "activation") != 0 &&
                strcmp(optarg, "registration") != 0) {
                fprintf(stderr, "oss: delivery failed: --kind is activation or "
                                "registration\n");
                return OSS_CLI_USAGE;
            }
            kind = optarg;
            break;
        case 'p':
            pending = 1;
            break;
        case 'h':
            fputs(delivery_usage, stdout);
            return OSS_CLI_OK;
        default:
            fputs(delivery_usage, stderr);
            return OSS_CLI_USAGE;
        }
    }
    if (optind != argc) {
        fputs(delivery_usage, stderr);
        return OSS_CLI_USAGE;
    }
    oss_config_t *cfg = oss_cli_load_config(config_path);
    if (!cfg)
        return OSS_CLI_ERROR;
    PGconn *conn = oss_cli_connect(cfg, NULL);
    oss_config_free(cfg);
    if (!conn)
        return OSS_CLI_ERROR;
    char secs[24];
    snprintf(secs, sizeof secs, "%ld", since);
    failed_set_t fs = {0};
    oss_err_t err = {0};
    int rc = OSS_CLI_OK;
    if (read_failed(conn, since, &fs, &err)) {
        fprintf(stderr,
                "oss: delivery failed: could not query the journal: %s\n",
                err.msg);
        rc = OSS_CLI_ERROR;
        goto done;
    }
    int n = 0;
    for (size_t i = 0; i < fs.n; i++) {
        failed_t *m = &fs.items[i];
        const char *state = state_of(m);
        if ((*kind && strcmp(m->kind, kind) != 0) ||
            (pending && !strcmp(state, "handed")))
            continue;
        if (n++ == 0)
            printf("%-36s  %-12s  %8s  %-20s  %-8s  %s\n", "ACCOUNT", "MESSAGE",
                   "FAILURES", "LAST FAILURE (UTC)", "NOW", "LAST REASON");
        char when[OSS_UTC_STR];
        oss_utc_format(m->last_failed_us, 0, when, sizeof when);
        const char *account = strlen(m->stream_id) > 9 ? m->stream_id + 9 : "";
        printf("%-36s  %-12s  %8" PRId64 "  %-20s  %-8s  %s\n", account,
               m->kind, m->failures, when, state, m->reason);
    }
    if (n == 0)
        printf("no failed delivery in the last %s s\n", secs);
    else
        printf("\n%d message(s) failed in the last %ld s\n", n, since);
done:
    free(fs.items);
    PQfinish(conn);
    return rc;
}

int
oss_cli_delivery(int argc, char **argv, const char *config_path) {
    if (argc < 2 || oss_cli_is_help(argv[1])) {
        fputs(delivery_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? OSS_CLI_USAGE : OSS_CLI_OK;
    }
    if (strcmp(argv[1], "failed") == 0)
        return delivery_failed(argc - 1, argv + 1, config_path);
    fprintf(stderr, "oss: delivery: unknown command \"%s\"\n\n%s", argv[1],
            delivery_usage);
    return OSS_CLI_USAGE;
}
