/* Persons and contacts for the API's routes: the person fields of a request
 * body checked with oss_app_person_validate() (422 naming every bad field)
 * and a principal's contact loaded on the worker's connection. */
#include "auth.h"

#include <string.h>

#include "app/notice.h"
#include "app/principal.h"
#include "request.h"

bool
api_person_parse(oss_http_req_t *req, json_t *body, const char *prefix,
                 oss_app_person_t *out) {
    oss_field_errors_t fe = {0};

    if (!json_is_object(body)) {
        memset(out, 0, sizeof *out);
        oss_http_reply_error(req, 400, "malformed_json",
                             "request body must be a JSON object", NULL);
        return false;
    }
    if (oss_app_person_validate(body, prefix, out, &fe))
        return true;
    char msg[64];
    snprintf(msg, sizeof msg, "%zu field%s invalid", fe.n,
             fe.n == 1 ? " is" : "s are");
    oss_http_reply_error(req, 422, "invalid_fields", msg, &fe);
    return false;
}

oss_code_t
api_contact_load(api_worker_t *w, const char *principal_id,
                 oss_app_contact_t *c, oss_err_t *err) {
    memset(c, 0, sizeof *c);
    oss_journal_t *j = oss_app_worker_journal(w, err);
    if (!j)
        return OSS_EUNAVAIL;
    PGconn *conn = oss_journal_conn(j);
    oss_code_t rc = oss_app_contact_load(conn, &api_worker_ctx(w)->app.master,
                                         principal_id, c, err);
    if (rc == OSS_EUNAVAIL && PQstatus(conn) != CONNECTION_OK)
        oss_app_worker_reset(w);
    return rc;
}
