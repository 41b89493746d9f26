/* `oss subject erase` (crypto-shredding of a data subject) and `oss keys
 * rotate | retire | status` (master-key rotation: re-wrap every data key,
 * never touching an event). The work is in src/crypto/subject.c. */
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/erasure.h"
#include "app/keys.h"
#include "cli.h"
#include "crypto/subject.h"
#include "db/db.h"
#include "journal/journal.h"

static const char subject_usage[] =
    "usage: oss subject erase SUBJECT_ID --reason REASON [--actor ID]\n"
    "       oss subject erase --account ACCOUNT_ID --reason REASON [--actor "
    "ID]\n"
    "\n"
    "Crypto-shreds a data subject: in ONE journal transaction it appends\n"
    "oss.v1.SubjectErased{subject_id, reason} on stream subject-<id> and\n"
    "deletes the subject's data key (oss.subject_keys) and its keyed\n"
    "look-ups (oss.identity_claims, oss.account_lookup) and pending messages\n"
    "(oss.deliveries). The events stay as they are (their hash chains still\n"
    "verify); their personal fields can never be opened again and print as\n"
    "[erased]. --account names the subject of an account's registration.\n"
    "The actor recorded is --actor, else cli:$USER (operator).\n"
    "Exit status: 0 erased, 1 already erased, 2 usage, 3 could not run.\n";

int
oss_cli_subject(int argc, char **argv, const char *config_path) {
    const char *subject = NULL, *account = NULL, *reason = NULL, *actor = NULL;
    if (argc < 2 || oss_cli_is_help(argv[1])) {
        fputs(subject_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? OSS_CLI_USAGE : OSS_CLI_OK;
    }
    if (strcmp(argv[1], "erase") != 0) {
        fprintf(stderr, "oss subject: unknown command \"%s\"\n\n%s", argv[1],
                subject_usage);
        return OSS_CLI_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (oss_cli_is_help(argv[i])) {
            fputs(subject_usage, stdout);
            return OSS_CLI_OK;
        } else if (strcmp(argv[i], "--account") == 0 && i + 1 < argc) {
            account = argv[++i];
        } else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
            reason = argv[++i];
        } else if (strcmp(argv[i], "--actor") == 0 && i + 1 < argc) {
            actor = argv[++i];
        } else if (argv[i][0] != '-' && !subject) {
            subject = argv[i];
        } else {
            fputs(subject_usage, stderr);
            return OSS_CLI_USAGE;
        }
    }
    if (!!subject == !!account || !reason || !*reason) {
        fputs(subject_usage, stderr);
        return OSS_CLI_USAGE;
    }
    char actor_buf[OSS_ID_MAX];
    if (!actor)
        actor = oss_cli_actor(actor_buf, sizeof actor_buf);

    int st = OSS_CLI_ERROR;
    oss_journal_t *j = NULL;
    oss_app_erasure_t e;
    oss_err_t err = {0};
    char sid[OSS_UUID_STR];
    memset(&e, 0, sizeof e);
    oss_config_t *cfg = oss_cli_load_config(config_path);
    if (!cfg)
        return OSS_CLI_ERROR;
    if (oss_journal_open(oss_config_str(cfg, "pg.url"), &j, &err) != OSS_OK) {
        fprintf(stderr, "oss: subject erase: %s\n", err.msg);
        goto done;
    }
    PGconn *c = (PGconn *)oss_journal_conn(j);
    if (account) {
        if (oss_subject_of_account(c, account, sid, &err) != OSS_OK) {
            fprintf(stderr, "oss: subject erase: %s\n", err.msg);
            st = err.code == OSS_ENOTFOUND ? OSS_CLI_USAGE : OSS_CLI_ERROR;
            goto done;
        }
        subject = sid;
    }
    if (oss_app_erasure_prepare(c, subject, reason, &e, &err) != OSS_OK) {
        fprintf(stderr, "oss: subject erase: %s\n", err.msg);
        st = err.code == OSS_ENOTFOUND || err.code == OSS_EINVAL
                 ? OSS_CLI_USAGE
                 : OSS_CLI_ERROR;
        goto done;
    }
    e.cmd.actor_kind = OSS_ACTOR_OPERATOR;
    e.cmd.actor_id = actor;
    e.cmd.correlation_id = "oss-cli-subject-erase";
    if (oss_app_erasure_run(j, &e, &err) != OSS_OK) {
        fprintf(stderr, "oss: subject erase: %s\n", err.msg);
        goto done;
    }
    if (e.cmd.outcome == OSS_JOURNAL_REJECTED) {
        fprintf(stderr, "oss: subject erase: %s\n", e.cmd.err.msg);
        st = oss_err_is(&e.cmd.err, OSS_APP_REASON_ALREADY_ERASED)
                 ? OSS_CLI_FAILED
                 : OSS_CLI_ERROR;
        goto done;
    }
    printf("subject %s erased: stream %s version %" PRId64 ", %" PRId64
           " key, %" PRId64 " look-ups, %" PRId64
           " pending deliveries deleted; accounts:",
           e.subject_id, e.stream_id, e.cmd.last_version, e.keys, e.lookups,
           e.deliveries);
    for (size_t i = 0; i < e.naccounts; i++)
        printf(" %s", e.account_ids[i]);
    printf("%s\n", e.naccounts ? "" : " -");
    printf("access ended: %" PRId64 " sessions, %" PRId64
           " grants revoked, %" PRId64 " passwords deleted\n",
           e.sessions, e.grants, e.passwords);
    st = OSS_CLI_OK;
done:
    oss_app_erasure_clear(&e);
    oss_journal_free(j);
    oss_config_free(cfg);
    return st;
}

/* ---- oss keys rotate | retire | status ---------------------------------- */

static const char oss_cli_keys_rotate_usage[] =
    "usage: oss keys rotate [--no-new-key] [--batch N]\n"
    "       oss keys retire\n"
    "       oss keys status\n"
    "\n"
    "rotate: master-key rotation. Writes a new random key at the top of\n"
    "crypto.master_key_file (atomically, mode 0600; the old keys stay below\n"
    "it), then re-wraps every oss.subject_keys row under the new key. No\n"
    "journal event is read or written: the sealed fields stay as they are,\n"
    "only the wrapping of their data keys changes. Running programs read the\n"
    "file again when they meet the new key id; until they are restarted they\n"
    "may wrap new subjects under the old key: run `oss keys rotate\n"
    "--no-new-key` after restarting them to re-wrap those too.\n"
    "retire: drops from the file every old key no row is wrapped under.\n"
    "status: the file's key ids (current first) and rows per key id.\n";

int
oss_cli_keys_rotate(int argc, char **argv, const char *config_path) {
    int new_key = 1, batch = 500;
    const char *what = argv[1];
    for (int i = 2; i < argc; i++) {
        if (oss_cli_is_help(argv[i])) {
            fputs(oss_cli_keys_rotate_usage, stdout);
            return OSS_CLI_OK;
        } else if (strcmp(what, "rotate") == 0 &&
                   strcmp(argv[i], "--no-new-key") == 0) {
            new_key = 0;
        } else if (strcmp(what, "rotate") == 0 &&
                   strcmp(argv[i], "--batch") == 0 && i + 1 < argc &&
                   atoi(argv[i + 1]) > 0) {
            batch = atoi(argv[++i]);
        } else {
            fputs(oss_cli_keys_rotate_usage, stderr);
            return OSS_CLI_USAGE;
        }
    }
    int st = OSS_CLI_ERROR;
    oss_err_t err = {0};
    PGconn *c = NULL;
    oss_config_t *cfg = oss_cli_load_config(config_path);
    if (!cfg)
        return OSS_CLI_ERROR;
    const char *path = oss_config_str(cfg, "crypto.master_key_file");
    if (!path || !*path) {
        fprintf(stderr, "oss: keys %s: crypto.master_key_file is not set\n",
                what);
        goto done;
    }
    if (!(c = oss_cli_connect(cfg, NULL)))
        goto done;
    /* bulk work: rewrapping every subject's key outlasts the session
     * defaults (src/db/db.h) */
    if (oss_db_set_bulk(c, 1, &err) != OSS_OK) {
        fprintf(stderr, "oss: keys %s: %s\n", what, err.msg);
        goto done;
    }
    if (strcmp(what, "rotate") == 0) {
        oss_app_keys_rotation_t rot;
        oss_code_t rc =
            oss_app_keys_rotate(c, path, new_key, batch, &rot, &err);
        if (rot.new_id[0])
            printf("new master key %s written to %s (old keys kept)\n",
                   rot.new_id, path);
        if (rc != OSS_OK) {
            fprintf(stderr,
                    "oss: keys rotate: %s (%" PRId64 " re-wrapped before)\n",
                    err.msg, rot.rewrapped);
            st = rc == OSS_ENOTFOUND ? OSS_CLI_FAILED : OSS_CLI_ERROR;
            goto done;
        }
        printf("re-wrapped %" PRId64 " data keys under %s; %" PRId64
               " rows under another key\n",
               rot.rewrapped, rot.current, rot.remaining);
        st = rot.remaining ? OSS_CLI_FAILED : OSS_CLI_OK;
    } else if (strcmp(what, "retire") == 0) {
        size_t retired = 0;
        if (oss_app_keys_retire(c, path, &retired, &err) != OSS_OK) {
            fprintf(stderr, "oss: keys retire: %s\n", err.msg);
            goto done;
        }
        printf("retired %zu old master key(s) from %s\n", retired, path);
        st = OSS_CLI_OK;
    } else { /* status */
        oss_app_key_rows_t keys[80];
        size_t n = 0;
        bool missing = false;
        if (oss_app_keys_status(c, path, keys, 80, &n, &missing, &err) !=
            OSS_OK) {
            fprintf(stderr, "oss: keys status: %s\n", err.msg);
            goto done;
        }
        for (size_t k = 0; k < n; k++) {
            if (keys[k].in_file)
                printf("key %s %s rows=%lld\n", keys[k].id,
                       keys[k].current ? "current" : "old", keys[k].rows);
            else
                printf("key %s MISSING from the file rows=%lld\n", keys[k].id,
                       keys[k].rows);
        }
        st = missing ? OSS_CLI_FAILED : OSS_CLI_OK;
    }
done:
    PQfinish(c);
    oss_config_free(cfg);
    return st;
}
