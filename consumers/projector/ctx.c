/* Small pieces shared by the projector's files: the applier context built
 * from the configuration (projector.schema, projector.name) and the
 * monotonic clock. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "projector_int.h"

oss_code_t
pj_ctx_init(const oss_config_t *cfg, pj_ctx_t *c, oss_err_t *err)
{
    memset(c, 0, sizeof *c);
    const char *schema = oss_config_str(cfg, "projector.schema");
    oss_code_t rc = pj_check_schema(schema, err);
    if (rc)
        return rc;
    snprintf(c->schema, sizeof c->schema, "%s", schema);
    c->name = oss_config_str(cfg, "projector.name");
    if (!c->name || !*c->name)
        return oss_err_field(err, OSS_EINVAL, "projector.name",
                             "invalid value for \"projector.name\": empty");
    return OSS_OK;
}

int64_t
pj_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
