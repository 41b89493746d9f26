/* The WhatsApp channel: a built message (the gateway's JSON) POSTed to
 * the HTTP gateway (notifier.whatsapp_url; outcome.c does the POST). */
#include "notifier_int.h"

oss_code_t
nt_send_whatsapp(notifier_t *n, const built_t *b, long *code, char *reply,
                 size_t reply_cap, oss_err_t *err) {
    return oss_http_post_json(NULL,
                              oss_config_str(n->cfg, "notifier.whatsapp_url"),
                              b->msg, b->len, code, reply, reply_cap, err);
}
