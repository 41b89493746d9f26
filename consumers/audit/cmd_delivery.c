/* `oss delivery failed [--since DURATION] [--kind KIND]`: the messages
 * (activation codes, registration mails) whose delivery failed in a window,
 * per account, read from the journal's delivery outcome events
 * (schemas/oss/v1/delivery.proto, streams "delivery-<account_id>"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
    const char *p[3] = {secs, kind, pending ? "t" : "f"};
    PGresult *r = PQexecParams(
        conn,
        "WITH f AS ("
        "  SELECT stream_id, causation_id, count(*) AS failures,"
        "         max(recorded_at) AS last_failed"
        "  FROM oss.journal"
        "  WHERE payload_type = 'oss.v1.DeliveryFailed'"
        "    AND recorded_at >= now() - make_interval(secs => $1::int8)"
        "  GROUP BY stream_id, causation_id),"
        " g AS ("
        "  SELECT substr(f.stream_id, 10) AS account, f.failures,"
        "         f.last_failed,"
        "         CASE c.payload_type"
        "           WHEN 'oss.v1.ActivationIssued' THEN 'activation'"
        "           WHEN 'oss.v1.AccountRegistered' THEN 'registration'"
        "           ELSE coalesce(c.payload_type, '?') END AS kind,"
        "         CASE l.payload_type"
        "           WHEN 'oss.v1.DeliveryHanded' THEN 'handed'"
        "           WHEN 'oss.v1.DeliveryRetrying' THEN 'retrying'"
        "           WHEN 'oss.v1.DeliveryFailed' THEN 'failed'"
        "           ELSE 'queued' END AS state,"
        "         lf.reason"
        "  FROM f"
        "  LEFT JOIN oss.journal c ON c.event_id = CASE WHEN f.causation_id"
        "    ~ '^[0-9a-fA-F-]{36}$' THEN f.causation_id::uuid END"
        "  CROSS JOIN LATERAL (SELECT j.payload_type FROM oss.journal j"
        "     WHERE j.stream_id = f.stream_id"
        "       AND j.causation_id = f.causation_id"
        "     ORDER BY j.version DESC LIMIT 1) l"
        "  CROSS JOIN LATERAL (SELECT j.reason FROM oss.journal j"
        "     WHERE j.stream_id = f.stream_id"
        "       AND j.causation_id = f.causation_id"
        "       AND j.payload_type = 'oss.v1.DeliveryFailed'"
        "     ORDER BY j.version DESC LIMIT 1) lf)"
        " SELECT account, kind, failures,"
        "  to_char(last_failed AT TIME ZONE 'UTC',"
        "          'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "  state, coalesce(reason, '')"
        " FROM g WHERE ($2 = '' OR kind = $2)"
        "   AND (NOT $3::bool OR state <> 'handed')"
        " ORDER BY last_failed DESC",
        3, NULL, p, NULL, NULL, 0);
    int rc = OSS_CLI_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(r);
        fprintf(stderr,
                "oss: delivery failed: could not query the journal: "
                "%.*s\n",
                (int)strcspn(m, "\n"), m);
        rc = OSS_CLI_ERROR;
        goto done;
    }
    int n = PQntuples(r);
    if (n == 0) {
        printf("no failed delivery in the last %s s\n", secs);
        goto done;
    }
    printf("%-36s  %-12s  %8s  %-20s  %-8s  %s\n", "ACCOUNT", "MESSAGE",
           "FAILURES", "LAST FAILURE (UTC)", "NOW", "LAST REASON");
    for (int i = 0; i < n; i++)
        printf("%-36s  %-12s  %8s  %-20s  %-8s  %s\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
               PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
    printf("\n%d message(s) failed in the last %ld s\n", n, since);
done:
    PQclear(r);
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
