/* The application context (app.h): keys and the lifecycle configuration
 * loaded once, the identifier checks the use cases share, and the `today`
 * of the birth-date checks. */
#include "app/app.h"

#include <string.h>

#include "app/lifecycle.h"
#include "core/clock.h"
#include "core/utc.h"

oss_code_t
oss_app_init(oss_app_t *app, const oss_config_t *cfg, oss_err_t *err) {
    oss_code_t rc;
    const char *mk = oss_config_str(cfg, "crypto.master_key_file");
    const char *ik = oss_config_str(cfg, "crypto.index_key_file");

    memset(app, 0, sizeof *app);
    app->pg_url = oss_config_str(cfg, "pg.url");
    rc = oss_keyring_load(mk ? mk : "", &app->master, err);
    if (rc != OSS_OK)
        return rc;
    rc = oss_keyring_load(ik ? ik : "", &app->index, err);
    if (rc == OSS_OK)
        oss_app_lc_init(app, cfg);
    return rc;
}

void
oss_app_free(oss_app_t *app) {
    if (!app)
        return;
    oss_app_lc_free(app);
    memset(&app->master, 0, sizeof app->master);
    memset(&app->index, 0, sizeof app->index);
}

bool
oss_app_id_valid(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

bool
oss_app_institution_valid(const char *c) {
    size_t n = c ? strlen(c) : 0;
    if (n && !strcmp(c, "oss"))
        return true;
    if (n == 3 || n == 10) {
        for (size_t i = 0; i < n; i++)
            if (c[i] < '0' || c[i] > '9')
                return false;
        return true;
    }
    if (n > 4 && n <= 15 && !strncmp(c, "kek-", 4)) {
        for (size_t i = 4; i < n; i++)
            if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9')))
                return false;
        return true;
    }
    return false;
}

bool
oss_app_reason_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int
oss_app_today_yyyymmdd(void) {
    return oss_utc_yyyymmdd(oss_now_us() + INT64_C(86400) * 1000000);
}
