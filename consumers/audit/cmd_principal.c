/* `oss principal create` and `oss principal revoke`: bootstraps a
 * government principal (access administrator, operator, auditor or
 * officer) from the console, or ends its access, the way
 * the API creates officers (src/app/gov.c): PrincipalCreated
 * with its personal fields sealed, the grant, and an activation sent by
 * the notifier to the given e-mail or WhatsApp number. Nothing personal is
 * printed or logged. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/app.h"
#include "app/gov.h"
#include "app/principal.h"
#include "cli.h"
#include "core/clock.h"
#include "core/validate.h"
#include "journal/journal.h"

static const char principal_usage[] =
    "usage: oss principal create --role ROLE --institution CODE\n"
    "           [--sector S] [--region R] (--nik NIK | --passport P\n"
    "           --country CC) --name NAME --email EMAIL --phone PHONE\n"
    "           [--birth-date YYYY-MM-DD] [--channel email|whatsapp]\n"
    "\n"
    "Creates a government principal and starts its activation (the\n"
    "notifier sends the link and code; the person then sets a password and\n"
    "signs in with POST /v1/sessions {principal_id, password}). Prints the\n"
    "new principal id.\n"
    "\n"
    "  --role ROLE          access_admin | operator | auditor | officer\n"
    "  --institution CODE   \"oss\" (the OSS authority), a 3-digit sector\n"
    "                       code, a 10-digit region code or kek-<code>\n"
    "  --sector S, --region R   an officer's scope\n"
    "\n"
    "usage: oss principal revoke PRINCIPAL_ID --reason REASON\n"
    "\n"
    "Revokes every government grant (access administrator, operator,\n"
    "auditor, officer) of the principal at once: GrantRevoked events and\n"
    "the end of every open session on its access stream, the grant and\n"
    "session rows and, when no grant is left, its password, all in one\n"
    "transaction; its token is refused from the next request on.\n";

static int
principal_create(int argc, char **argv, const char *config_path) {
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},
        {"institution", required_argument, NULL, 'i'},
        {"sector", required_argument, NULL, 's'},
        {"region", required_argument, NULL, 'g'},
        {"nik", required_argument, NULL, 'n'},
        {"passport", required_argument, NULL, 'p'},
        {"country", required_argument, NULL, 'c'},
        {"name", required_argument, NULL, 'N'},
        {"email", required_argument, NULL, 'e'},
        {"phone", required_argument, NULL, 'P'},
        {"birth-date", required_argument, NULL, 'b'},
        {"channel", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *role = NULL, *inst = NULL, *sector = NULL, *region = NULL;
    json_t *body = json_object();
    oss_config_t *cfg = NULL;
    oss_journal_t *j = NULL;
    oss_app_t app;
    oss_app_person_t who;
    oss_grant_t g;
    oss_field_errors_t fe = {0};
    oss_err_t err;
    int c, rc = OSS_CLI_USAGE;
    char actor[96], cid[OSS_UUID_STR];

    memset(&app, 0, sizeof app);
    memset(&who, 0, sizeof who);
    memset(&g, 0, sizeof g);
    if (!body)
        return OSS_CLI_ERROR;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 'r':
            role = optarg;
            break;
        case 'i':
            inst = optarg;
            break;
        case 's':
            sector = optarg;
            break;
        case 'g':
            region = optarg;
            break;
        case 'n':
            key = "nik";
            break;
        case 'p':
            key = "passport";
            break;
        case 'c':
            key = "country";
            break;
        case 'N':
            key = "name";
            break;
        case 'e':
            key = "email";
            break;
        case 'P':
            key = "phone";
            break;
        case 'b':
            key = "birth_date";
            break;
        case 'C':
            key = "channel";
            break;
        case 'h':
            fputs(principal_usage, stdout);
            rc = OSS_CLI_OK;
            goto done;
        default:
            fputs(principal_usage, stderr);
            goto done;
        }
        if (key)
            json_object_set_new(body, key, json_string(optarg));
    }
    if (optind != argc || !role || !inst) {
        fprintf(stderr,
                "oss: principal create: --role and --institution are "
                "required\n\n%s",
                principal_usage);
        goto done;
    }
    g.role = oss_role_parse(role);
    if (g.role != OSS_ROLE_ACCESS_ADMIN && g.role != OSS_ROLE_OPERATOR &&
        g.role != OSS_ROLE_AUDITOR && g.role != OSS_ROLE_OFFICER) {
        fprintf(stderr, "oss: principal create: --role must be access_admin, "
                        "operator, auditor or officer\n");
        goto done;
    }
    if (!oss_app_institution_valid(inst)) {
        fprintf(stderr,
                "oss: principal create: invalid --institution \"%s\" "
                "(oss, a 3-digit sector code, a 10-digit region code "
                "or kek-<code>)\n",
                inst);
        goto done;
    }
    if ((g.role == OSS_ROLE_OPERATOR || g.role == OSS_ROLE_AUDITOR) &&
        strcmp(inst, "oss") != 0) {
        fprintf(stderr, "oss: principal create: operators and auditors belong "
                        "to institution \"oss\"\n");
        goto done;
    }
    if (sector && (strlen(sector) != 3 || strspn(sector, "0123456789") != 3)) {
        fprintf(stderr, "oss: principal create: --sector must be 3 digits\n");
        goto done;
    }
    if (region && oss_region_code_check(region)) {
        fprintf(stderr, "oss: principal create: --region: %s\n",
                oss_region_code_check(region));
        goto done;
    }
    if ((sector || region) && g.role != OSS_ROLE_OFFICER) {
        fprintf(stderr, "oss: principal create: --sector and --region are an "
                        "officer's scope\n");
        goto done;
    }
    snprintf(g.institution, sizeof g.institution, "%s", inst);
    snprintf(g.sector, sizeof g.sector, "%s", sector ? sector : "");
    snprintf(g.region, sizeof g.region, "%s", region ? region : "");
    if (!oss_app_person_validate(body, "", &who, &fe)) {
        for (size_t i = 0; i < fe.n; i++)
            fprintf(stderr, "oss: principal create: --%s: %s\n",
                    fe.items[i].field, fe.items[i].reason);
        goto done;
    }
    rc = OSS_CLI_ERROR;
    if (!(cfg = oss_cli_load_config(config_path)))
        goto done;
    oss_err_clear(&err);
    if (oss_app_init(&app, cfg, &err) != OSS_OK) {
        fprintf(stderr, "oss: principal create: %s\n", err.msg);
        goto done;
    }
    if (!app.lc) {
        fprintf(stderr, "oss: principal create: no activation possible: "
                        "crypto.otp_key_file is missing or unusable\n");
        goto done;
    }
    oss_err_clear(&err);
    if (oss_journal_open(app.pg_url ? app.pg_url : "", &j, &err) != OSS_OK) {
        fprintf(stderr, "oss: principal create: %s\n", err.msg);
        goto done;
    }
    oss_cli_actor(actor, sizeof actor);
    oss_uuid7(cid);
    oss_app_create_t pc = {.who = &who,
                           .kind = "government",
                           .grant = &g,
                           .cause = "bootstrap",
                           .actor_kind = OSS_ACTOR_OPERATOR,
                           .actor_id = actor,
                           .correlation_id = cid};
    oss_err_clear(&err);
    if (oss_app_principal_create(&app, j, &pc, &err) != OSS_OK) {
        fprintf(stderr, "oss: principal create: %s\n", err.msg);
        goto done;
    }
    if (pc.outcome != OSS_JOURNAL_APPENDED) {
        if (oss_err_is(&pc.err, OSS_APP_REASON_OFFICER_EXISTS))
            fprintf(stderr,
                    "oss: principal create: refused: this person "
                    "(--%s) is already an officer of institution "
                    "%s\n",
                    pc.err.field, inst);
        else
            fprintf(stderr, "oss: principal create: refused: %s\n", pc.err.msg);
        rc = OSS_CLI_FAILED;
        goto done;
    }
    printf("%s\n", pc.principal_id);
    fprintf(stderr, "created %s %s of institution %s; activation sent by %s\n",
            pc.principal_id, oss_role_name(g.role), inst, who.channel);
    rc = OSS_CLI_OK;
done:
    memset(&who, 0, sizeof who);
    if (j)
        oss_journal_free(j);
    oss_app_free(&app);
    if (cfg)
        oss_config_free(cfg);
    if (body) {
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) {
            if (json_is_string(v))
                memset((char *)json_string_value(v), 0, json_string_length(v));
        }
        json_decref(body);
    }
    return rc;
}

/* ---- oss principal revoke ------------------------------------------------ */

static int
principal_revoke(int argc, char **argv, const char *config_path) {
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *reason = NULL;
    oss_config_t *cfg = NULL;
    oss_journal_t *j = NULL;
    oss_app_revoke_t rv;
    oss_err_t err;
    int o, rc = OSS_CLI_USAGE;
    char actor[96], cid[OSS_UUID_STR];

    memset(&rv, 0, sizeof rv);
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            reason = optarg;
            break;
        case 'h':
            fputs(principal_usage, stdout);
            return OSS_CLI_OK;
        default:
            fputs(principal_usage, stderr);
            return OSS_CLI_USAGE;
        }
    }
    if (optind != argc - 1 || !reason) {
        fprintf(stderr,
                "oss: principal revoke: PRINCIPAL_ID and --reason "
                "are required\n\n%s",
                principal_usage);
        return OSS_CLI_USAGE;
    }
    const char *pid = argv[optind];
    bool printable = oss_app_reason_valid(reason);
    if (!oss_app_id_valid(pid) || !printable) {
        fprintf(stderr, "oss: principal revoke: %s\n",
                printable ? "invalid PRINCIPAL_ID"
                          : "--reason must be 1-200 printable characters");
        return OSS_CLI_USAGE;
    }
    rc = OSS_CLI_ERROR;
    if (!(cfg = oss_cli_load_config(config_path)))
        goto done;
    const char *url = oss_config_str(cfg, "pg.url");
    oss_err_clear(&err);
    if (oss_journal_open(url ? url : "", &j, &err) != OSS_OK) {
        fprintf(stderr, "oss: principal revoke: %s\n", err.msg);
        goto done;
    }
    oss_cli_actor(actor, sizeof actor);
    oss_uuid7(cid);
    rv.principal_id = pid;
    rv.institution = NULL; /* every government grant */
    rv.reason = reason;
    rv.actor_kind = OSS_ACTOR_OPERATOR;
    rv.actor_id = actor;
    rv.correlation_id = cid;
    oss_err_clear(&err);
    if (oss_app_principal_revoke(j, &rv, &err) != OSS_OK) {
        fprintf(stderr, "oss: principal revoke: %s\n", err.msg);
        goto done;
    }
    if (rv.outcome != OSS_JOURNAL_APPENDED) {
        fprintf(stderr, "oss: principal revoke: refused: %s\n", rv.err.msg);
        rc = OSS_CLI_FAILED;
        goto done;
    }
    printf("revoked %s: %zu grant(s), %zu session(s) ended\n", pid, rv.grants,
           rv.sessions);
    rc = OSS_CLI_OK;
done:
    if (j)
        oss_journal_free(j);
    if (cfg)
        oss_config_free(cfg);
    return rc;
}

int
oss_cli_principal(int argc, char **argv, const char *config_path) {
    if (argc < 2 || oss_cli_is_help(argv[1])) {
        fputs(principal_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? OSS_CLI_USAGE : OSS_CLI_OK;
    }
    if (!strcmp(argv[1], "create"))
        return principal_create(argc - 1, argv + 1, config_path);
    if (!strcmp(argv[1], "revoke"))
        return principal_revoke(argc - 1, argv + 1, config_path);
    fprintf(stderr, "oss: principal: unknown command \"%s\"\n\n%s", argv[1],
            principal_usage);
    return OSS_CLI_USAGE;
}
