/* The applier context built from the configuration (projector.schema,
 * projector.name), shared by the loop, the rebuild and the dead-letter
 * tools. */
#include <stdio.h>
#include <string.h>

#include "projector_int.h"

oss_code_t
pj_ctx_init(const oss_config_t *cfg, pj_ctx_t *c, oss_err_t *err) {
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
