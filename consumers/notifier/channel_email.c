/* The e-mail channel: a built message handed to the SMTP server
 * (notifier.smtp_url) over the notifier's kept curl handle (mail.c). */
#include "notifier_int.h"

oss_code_t
nt_send_email(notifier_t *n, const built_t *b, long *code, char *reply,
              size_t reply_cap, oss_err_t *err) {
    return oss_mail_send_reply(
        n->curl, oss_config_str(n->cfg, "notifier.smtp_url"), n->from_addr,
        b->to, b->msg, b->len, code, reply, reply_cap, err);
}
