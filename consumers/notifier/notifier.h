/* The notifier: consumes oss.account from Kafka and sends a registration
 * e-mail (Indonesian, with an English part) over SMTP (libcurl) per
 * AccountRegistered, the activation message (OTP + link, opened from the
 * sealed oss.deliveries row) per ActivationIssued to the principal's
 * contact, and every targeted notice (an oss.deliveries row of another kind,
 * queued by producers/api/notice.c) with its kind's template (templates.c),
 * by e-mail or WhatsApp (HTTP gateway). Each attempt's outcome is a journal
 * event on "delivery-<account_id>" (schemas/oss/v1/delivery.proto; see
 * README.md).
 *
 * Delivery is at-least-once with idempotency:
 *  - consumption uses assign(), not a consumer group (a restart does not wait
 *    out a session timeout); the next offset of each partition is stored in
 *    oss.notifier_offsets with the broker's cluster id (a broker restarted
 *    empty has a new id: the notifier then starts from the beginning of what
 *    it holds, and the ledger below drops what was already sent);
 *  - the ledger oss.notifications (infra/sql/030_notifier.sql) gets a row
 *    (event_id, 'email', status 'sending') BEFORE the message is handed to
 *    the SMTP server and 'sent' AFTER, so a redelivery or a restart sends no
 *    duplicate. A crash between the two leaves 'sending': the mail is sent
 *    again with the same Message-ID (<event-id@oss.local>), which receivers
 *    use to drop the repeat: that window is the "at least" of at-least-once;
 *  - a failed attempt is retried with exponential backoff (1 s doubling, at
 *    most notifier.retry_max_s between attempts) until it succeeds; an SMTP
 *    5xx answer (permanent) marks the row 'failed';
 *  - a subject whose data key is gone (crypto-shredded) gets no message: the
 *    row is marked 'skipped';
 *  - Kafka is not the history (the embedded broker drops old messages and
 *    forgets everything on a restart): every notifier.sweep_interval_s the
 *    journal is swept in (xid, position) order below the commit horizon and
 *    each AccountRegistered older than notifier.sweep_lag_s without a ledger
 *    row (or left 'sending') is delivered the same way;
 *  - one notifier is active at a time (pg_try_advisory_lock(7302)); another
 *    instance stands by, since two could both send a 'sending' row.
 * A message whose oss_signature header does not verify is ignored (logged
 * with its topic/partition/offset). Nothing personal (address, name) is ever
 * logged or stored in the ledger.
 * Thread-safety: one notifier per process; the loop runs in the caller's
 * thread. */
#ifndef OSS_NOTIFIER_H
#define OSS_NOTIFIER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "core/error.h"

#define OSS_NOTIFIER_CHANNEL_EMAIL "email"

/* What a registration mail says (all borrowed). */
typedef struct oss_mail {
    const char *event_id; /* the Message-ID is <event_id@oss.local> */
    const char *from;     /* header value, e.g. "OSS <no-reply@oss.go.id>" */
    const char *to;       /* bare address */
    const char *name;     /* greeting; may be NULL */
    const char *account_id;
    int64_t date_us; /* Date header, unix microseconds */
} oss_mail_t;

/* Builds the RFC 5322 message (CRLF line ends, multipart/mixed with an
 * Indonesian and an English text/plain part, quoted-printable UTF-8).
 * Returns new in *out (NUL-terminated, length *len), caller frees with
 * free(). OSS_EINVAL when the address or a header value is unusable (control
 * characters, no '@', angle brackets): nothing personal goes into err. */
oss_code_t oss_mail_compose(const oss_mail_t *m, char **out, size_t *len,
                            oss_err_t *err);

/* The address inside a From value ("Name <a@b>" -> "<a@b>", "a@b" ->
 * "<a@b>") into out. */
void oss_mail_envelope_addr(const char *from, char *out, size_t outlen);

/* Quoted-printable (RFC 2045) of n bytes; returns new, caller frees with
 * free(); lines are CRLF-ended and at most 76 characters. */
char *oss_mail_qp(const char *s, size_t n);

/* Sends msg (borrowed) to one recipient over SMTP with curl (an easy handle
 * the caller owns, reused so the connection is kept). *smtp_code gets the
 * server's last reply code (0 when none). OSS_EUNAVAIL when retrying may
 * help, OSS_EINVAL when the server refused permanently (5xx). */
oss_code_t oss_mail_send(void *curl, const char *url, const char *from_addr,
                         const char *to_addr, const char *msg, size_t len,
                         long *smtp_code, oss_err_t *err);

/* ---- delivery outcomes and activation messages (issue 4) ---------------- */

#define OSS_NOTIFIER_CHANNEL_WHATSAPP "whatsapp"
#define OSS_REPLY_TEXT_MAX 200

/* What an activation message says besides the greeting (all borrowed; otp
 * and link are secrets: the caller wipes them). */
typedef struct oss_activation_msg {
    const char *account_id;
    const char *otp;      /* 6 digits */
    const char *link;     /* the single-use activation link */
    int64_t issued_at_us; /* when the code was issued */
    int64_t expires_at_us;
} oss_activation_msg_t;

/* The activation e-mail (same layout as oss_mail_compose: Indonesian and
 * English parts; what happened and when, the OTP and the link, when they
 * expire, what to do next). m->account_id is unused. Returns new in *out,
 * caller wipes and frees. */
oss_code_t oss_mail_compose_activation(const oss_mail_t *m,
                                       const oss_activation_msg_t *a,
                                       char **out, size_t *len, oss_err_t *err);

/* The activation WhatsApp message for the HTTP gateway: JSON
 * {"message_id", "to" (m->to, E.164), "channel", "type", "text": {"id",
 * "en"}}. Returns new in *out, caller wipes and frees. */
oss_code_t oss_whatsapp_compose(const oss_mail_t *m,
                                const oss_activation_msg_t *a, char **out,
                                size_t *len, oss_err_t *err);

/* oss_mail_send() that also copies the server's last reply line (e.g.
 * "250 2.0.0 stored", "550 5.1.1 mailbox unavailable"), scrubbed of anything
 * that looks like an address, into reply_text (may be NULL). */
oss_code_t oss_mail_send_reply(void *curl, const char *url,
                               const char *from_addr, const char *to_addr,
                               const char *msg, size_t len, long *smtp_code,
                               char *reply_text, size_t reply_cap,
                               oss_err_t *err);

/* POSTs body (JSON, borrowed) to url; *status gets the HTTP status and
 * reply_text (may be NULL) "202 Accepted". OSS_OK on 2xx, OSS_EINVAL on a
 * permanent refusal (4xx but 408/429), OSS_EUNAVAIL otherwise. curl is
 * unused (a fresh handle per call). */
oss_code_t oss_http_post_json(void *curl, const char *url, const char *body,
                              size_t len, long *status, char *reply_text,
                              size_t reply_cap, oss_err_t *err);

/* Copies n bytes of a server reply into out (NUL-terminated), replacing
 * every word holding '@' by "[address]", every word of 8 or more digits
 * (a phone number) by "[number]" and control bytes by '?'. */
void oss_reply_scrub(const char *in, size_t n, char *out, size_t cap);

/* One delivery outcome, appended to the journal on stream
 * "delivery-<account_id>" (type "delivery"), actor SYSTEM_JOB "notifier",
 * causation = the triggering event, idempotency key
 * "notifier:<event>:<channel>:<attempt>:<what>" (<event> = key_id when
 * set; a restart appends nothing twice). All borrowed. */
typedef enum oss_outcome_kind {
    OSS_OUTCOME_QUEUED = 0,
    OSS_OUTCOME_HANDED,
    OSS_OUTCOME_FAILED,  /* permanent: no retry follows */
    OSS_OUTCOME_RETRYING /* a transient failure: DeliveryFailed (not
                            permanent) + DeliveryRetrying */
} oss_outcome_kind_t;

typedef struct oss_outcome {
    oss_outcome_kind_t kind;
    const char *account_id;
    const char *cause_event_id; /* the triggering event (causation) */
    const char *key_id;         /* a targeted notice: its delivery id,
                                   which then keys the ledger row, the
                                   idempotency key and the Message-ID
                                   instead of cause_event_id; else NULL */
    const char *correlation_id; /* of the triggering event; may be "" */
    const char *channel;        /* "email" | "whatsapp" */
    const char *what;           /* "registration" | "activation" */
    const char *trigger_type;   /* payload type of the trigger */
    int attempt;                /* 1-based; 0 for QUEUED */
    long reply_code;
    const char *reply_text;     /* scrubbed; may be NULL */
    const char *reason;         /* FAILED / RETRYING; never personal */
    int64_t next_attempt_at_us; /* RETRYING */
    /* written in the same transaction as the event(s) (never on a replay):
     * the ledger row (cause_event_id, channel) gets status (when not
     * NULL) and last_error = ledger_error when ledger_update is set; the
     * sealed oss.deliveries row delivered_id (when not NULL/"") gets
     * delivered_at = now() (the notifier's sweep deletes it a few minutes
     * later, or at expiry). */
    int ledger_update;
    const char *ledger_status;
    const char *ledger_error;
    const char *delivered_id;
} oss_outcome_t;

struct oss_journal;
/* Appends o's event(s) in one journal command. OSS_OK also when the key
 * was already used (replayed); OSS_EUNAVAIL when the journal is down
 * (retriable); other codes when the journal refused it. */
oss_code_t oss_notifier_outcome_append(struct oss_journal *j,
                                       const oss_outcome_t *o, oss_err_t *err);

/* The same for os[0..n) in one journal transaction (group commit). A
 * refused one makes the call return its error after the others were
 * appended. */
oss_code_t oss_notifier_outcome_append_many(struct oss_journal *j,
                                            const oss_outcome_t *os, size_t n,
                                            oss_err_t *err);

/* ---- message templates (templates.c) ----------------------------------- */

/* Renders the template of kind ("registration", "activation",
 * "password_reset", "handover_filed", ...: see oss_template_kind_at) in lang
 * ("id" Indonesian, times in WIB; "en" English, times in UTC) with vars (a
 * JSON object, borrowed; "when" defaults to when_us, the time the event
 * happened; "name" to a polite greeting; time variables may be unix
 * microseconds or ISO 8601 UTC; coded values such as decision, role and
 * reason_code are said in words). Returns new strings in *subject and *body
 * (caller wipes and frees: the body may hold a secret). OSS_ENOTFOUND for
 * an unknown kind. A variable the template uses that vars lacks is
 * rendered "-" and named in missing (cap bytes, may be NULL). Pure. */
oss_code_t oss_template_render(const char *kind, const char *lang,
                               const json_t *vars, int64_t when_us,
                               char **subject, char **body, char *missing,
                               size_t missing_cap, oss_err_t *err);
/* The i-th template kind (static), NULL past the last. */
const char *oss_template_kind_at(size_t i);
/* The variables kind's texts use (static, NULL-terminated), NULL when the
 * kind is unknown. */
const char *const *oss_template_vars(const char *kind);
/* "24 November 2026 18:15 WIB" (wib) or "24 November 2026 11:15 UTC". */
void oss_template_when(int64_t us, int wib, char *out, size_t cap);

/* A message of two ready texts (Indonesian, English) with the subject
 * "<subject_id> / <subject_en>": the e-mail (layout of oss_mail_compose)
 * or, with whatsapp set, the gateway's JSON {"message_id" (m->event_id),
 * "to", "channel", "type": kind, "text": {"id", "en"}}. All borrowed;
 * returns new in *out, caller wipes and frees. */
oss_code_t oss_message_compose(const oss_mail_t *m, int whatsapp,
                               const char *kind, const char *subject_id,
                               const char *subject_en, const char *text_id,
                               const char *text_en, char **out, size_t *len,
                               oss_err_t *err);

/* Runs the notifier until *stop becomes non-zero. Returns OSS_OK after a
 * clean stop, or an error not worth retrying (unreadable key files). */
oss_code_t oss_notifier_run(const oss_config_t *cfg,
                            volatile sig_atomic_t *stop, oss_err_t *err);

#endif
