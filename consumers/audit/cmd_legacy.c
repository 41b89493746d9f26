/* `oss legacy import FILE`: loads OSS 1.1 accounts (tab-separated, with a
 * header: legacy_id, username, password_argon2id, npwp15, company,
 * decree_number, director_name, director_nik; see
 * infra/data/legacy/README.md) into oss.legacy_accounts for the "ganti hak
 * akses" migration (POST /v1/legacy-migrations). The username, NPWP,
 * director name and NIK are stored only as keyed digests (HMAC under
 * crypto.index_key_file), never in plaintext; a row already imported is
 * left as it is (re-running the import is harmless). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/legacy.h"
#include "cli.h"
#include "core/bytes.h"
#include "core/nik.h"
#include "core/validate.h"
#include "crypto/crypto.h"

static const char legacy_usage[] =
    "usage: oss legacy import FILE\n"
    "\n"
    "Imports OSS 1.1 accounts to migrate from FILE (tab-separated, one header\n"
    "line): legacy_id, username, password_argon2id, npwp15, company,\n"
    "decree_number, director_name, director_nik. Every row is checked (NPWP\n"
    "Luhn digit, NIK structure, an Argon2id hash) and stored with keyed\n"
    "digests of the username, NPWP, director name and NIK only. Rows already\n"
    "imported are skipped. Exit 0 when every row was imported or present,\n"
    "1 when a row was rejected (the others are still imported), 3 when it\n"
    "could not run.\n";

#define NCOLS 8

/* Splits a TSV line in place into cols; returns the number of columns. */
static int
split_tsv(char *line, char **cols, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    char *p = line;
    while (n < max) {
        cols[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

static bool
id_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* Checks one row; returns NULL or "field reason". */
static const char *
row_check(char **c, char *npwp16, char *name_fold, char *username_fold,
          char *decree_fold) {
    static char why[96];
    const char *r;

    if (!id_ok(c[0]))
        return "legacy_id invalid";
    if (!c[1][0] || strlen(c[1]) > 128)
        return "username invalid";
    if (strncmp(c[2], "$argon2id$", 10) != 0 || strlen(c[2]) > 256)
        return "password_argon2id not_argon2id";
    if (strlen(c[3]) != 15) {
        snprintf(why, sizeof why, "npwp15 npwp_not_15_digits");
        return why;
    }
    if ((r = oss_npwp_normalize(c[3], npwp16, 17))) {
        snprintf(why, sizeof why, "npwp15 %s", r);
        return why;
    }
    if (!c[4][0] || strlen(c[4]) > 200)
        return "company required";
    if (!c[5][0] || strlen(c[5]) > 100)
        return "decree_number required";
    char name[401];
    if ((r = oss_name_normalize(c[6], name, sizeof name))) {
        snprintf(why, sizeof why, "director_name %s", r);
        return why;
    }
    if ((r = oss_nik_check(c[7], NULL))) {
        snprintf(why, sizeof why, "director_nik %s", r);
        return why;
    }
    oss_text_fold(name, name_fold, 401);
    oss_text_fold(c[5], decree_fold, 101);
    oss_app_legacy_username_fold(c[1], username_fold);
    return NULL;
}

static int
legacy_import(const char *file, const char *config_path) {
    oss_config_t *cfg = NULL;
    PGconn *conn = NULL;
    FILE *f = NULL;
    oss_keyring_t index;
    oss_err_t err;
    int rc = OSS_CLI_ERROR;
    size_t imported = 0, present = 0, rejected = 0;
    char line[4096];
    int lineno = 0;

    memset(&index, 0, sizeof index);
    if (!(cfg = oss_cli_load_config(config_path)))
        goto done;
    oss_err_clear(&err);
    const char *ik = oss_config_str(cfg, "crypto.index_key_file");
    if (oss_keyring_load(ik ? ik : "", &index, &err) != OSS_OK) {
        fprintf(stderr, "oss: legacy import: %s\n", err.msg);
        goto done;
    }
    if (!(f = fopen(file, "r"))) {
        fprintf(stderr, "oss: legacy import: could not open \"%s\"\n", file);
        goto done;
    }
    if (!(conn = oss_cli_connect(cfg, NULL)))
        goto done;
    PGresult *r = PQexec(conn, "BEGIN");
    PQclear(r);
    while (fgets(line, sizeof line, f)) {
        char *c[NCOLS];
        char npwp16[17], name_fold[401], user_fold[129], decree_fold[101];
        lineno++;
        if (line[0] == '\n' || line[0] == '#')
            continue;
        int n = split_tsv(line, c, NCOLS);
        if (lineno == 1 && !strcmp(c[0], "legacy_id"))
            continue;
        const char *why =
            n == NCOLS ? row_check(c, npwp16, name_fold, user_fold, decree_fold)
                       : "row has the wrong number of columns";
        if (why) {
            /* never echo the values: they are personal data */
            fprintf(stderr, "oss: legacy import: %s line %d rejected: %s\n",
                    file, lineno, why);
            rejected++;
            continue;
        }
        uint8_t d[4][32];
        char hx[4][65];
        oss_index_digest(&index, "legacy_username", user_fold, d[0]);
        oss_index_digest(&index, "npwp", npwp16, d[1]);
        oss_index_digest(&index, "legacy_director_name", name_fold, d[2]);
        oss_index_digest(&index, "nik", c[7], d[3]);
        for (int k = 0; k < 4; k++)
            oss_hex_encode(d[k], 32, hx[k]);
        const char *p[] = {c[0], hx[0],       c[2],  hx[1],
                           c[4], decree_fold, hx[2], hx[3]};
        r = PQexecParams(
            conn,
            "INSERT INTO oss.legacy_accounts (legacy_id, username_digest, "
            "password_hash, npwp_digest, company, decree_number, "
            "director_name_digest, director_nik_digest) VALUES ($1, "
            "decode($2, 'hex'), $3, decode($4, 'hex'), $5, $6, decode($7, "
            "'hex'), decode($8, 'hex')) ON CONFLICT DO NOTHING",
            8, NULL, p, NULL, NULL, 0);
        memset(name_fold, 0, sizeof name_fold);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "oss: legacy import: could not store line %d: %s",
                    lineno, PQerrorMessage(conn));
            PQclear(r);
            r = PQexec(conn, "ROLLBACK");
            PQclear(r);
            goto done;
        }
        if (strcmp(PQcmdTuples(r), "1") == 0)
            imported++;
        else
            present++;
        PQclear(r);
    }
    r = PQexec(conn, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "oss: legacy import: could not commit: %s",
                PQerrorMessage(conn));
        PQclear(r);
        goto done;
    }
    PQclear(r);
    printf("imported %zu, already present %zu, rejected %zu\n", imported,
           present, rejected);
    rc = rejected ? OSS_CLI_FAILED : OSS_CLI_OK;
done:
    memset(line, 0, sizeof line);
    if (f)
        fclose(f);
    if (conn)
        PQfinish(conn);
    memset(&index, 0, sizeof index);
    oss_config_free(cfg);
    return rc;
}

int
oss_cli_legacy(int argc, char **argv, const char *config_path) {
    if (argc >= 2 && oss_cli_is_help(argv[1])) {
        fputs(legacy_usage, stdout);
        return OSS_CLI_OK;
    }
    if (argc != 3 || strcmp(argv[1], "import") != 0) {
        fputs(legacy_usage, stderr);
        return OSS_CLI_USAGE;
    }
    return legacy_import(argv[2], config_path);
}
