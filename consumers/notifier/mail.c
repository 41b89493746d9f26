/* The registration mail: composition (RFC 5322 + MIME, quoted-printable) and
 * delivery over SMTP with libcurl. Never logs: callers decide what to say,
 * and nothing here puts an address or a name into an error message. */
#include "notifier.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/buf.h"

char *
oss_mail_qp(const char *s, size_t n) {
    oss_buf_t b = {0};
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            oss_buf_appends(&b, "\r\n");
            col = 0;
            continue;
        }
        if (c == '\r')
            continue;
        char enc[8];
        size_t el;
        int trailing_ws = (c == ' ' || c == '\t') &&
                          (i + 1 == n || s[i + 1] == '\n' || s[i + 1] == '\r');
        if ((c >= 33 && c <= 126 && c != '=') ||
            ((c == ' ' || c == '\t') && !trailing_ws)) {
            enc[0] = (char)c;
            el = 1;
        } else {
            snprintf(enc, sizeof enc, "=%02X", c); /* RFC 2045: upper case */
            el = 3;
        }
        if (col + el > 75) { /* soft line break keeps lines <= 76 */
            oss_buf_appends(&b, "=\r\n");
            col = 0;
        }
        oss_buf_append(&b, enc, el);
        col += el;
    }
    return oss_buf_detach(&b, NULL); /* "" for empty s, NULL when oom */
}

void
oss_mail_envelope_addr(const char *from, char *out, size_t outlen) {
    const char *lt = strrchr(from, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        snprintf(out, outlen, "%.*s", (int)(gt - lt + 1), lt);
    else
        snprintf(out, outlen, "<%s>", from);
}

/* 1 when s may appear in a header: printable ASCII, no angle brackets. */
static int
header_safe(const char *s, int is_addr) {
    if (!s || !*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p >= 0x80)
            return 0;
        if (is_addr && (*p == '<' || *p == '>' || *p == ' ' || *p == ','))
            return 0;
    }
    if (is_addr) {
        const char *at = strchr(s, '@');
        return at && at != s && at[1] && !strchr(at + 1, '@');
    }
    return 1;
}

/* Copies name without control characters (a name never spans lines). */
static char *
clean_name(const char *name) {
    size_t n = name ? strlen(name) : 0, o = 0;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 0x20 && c != 0x7f)
            s[o++] = (char)c;
    }
    s[o] = '\0';
    return s;
}

static void
put_part(oss_buf_t *b, const char *boundary, const char *lang,
         const char *text) {
    char *qp = oss_mail_qp(text, strlen(text));
    if (!qp) {
        b->failed = true;
        return;
    }
    oss_buf_appendf(b,
                    "--%s\r\n"
                    "Content-Type: text/plain; charset=UTF-8\r\n"
                    "Content-Language: %s\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n"
                    "\r\n",
                    boundary, lang);
    oss_buf_appends(b, qp);
    oss_buf_appends(b, "\r\n");
    free(qp);
}

/* Checks the header values of m; OSS_EINVAL (nothing personal in err). */
static oss_code_t
check_headers(const oss_mail_t *m, oss_err_t *err) {
    if (!header_safe(m->to, 1))
        return oss_err_field(err, OSS_EINVAL, "email",
                             "recipient address is not usable in a header");
    if (!header_safe(m->from, 0) || !header_safe(m->event_id, 0) ||
        strchr(m->event_id, '>') || strchr(m->event_id, '<'))
        return oss_err_set(err, OSS_EINVAL,
                           "sender or event id is not usable in a header");
    return OSS_OK;
}

/* The message around two ready texts (headers checked by the caller). */
static oss_code_t
compose_parts(const oss_mail_t *m, const char *subject, const char *id_text,
              const char *en_text, char **out, size_t *len, oss_err_t *err) {
    char date[64];
    time_t t = (time_t)(m->date_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);

    char boundary[96];
    snprintf(boundary, sizeof boundary, "=_oss_%s", m->event_id);

    oss_buf_t b = {0};
    oss_buf_appendf(&b, "Date: %s\r\n", date);
    oss_buf_appendf(&b, "From: %s\r\n", m->from);
    oss_buf_appendf(&b, "To: <%s>\r\n", m->to);
    oss_buf_appendf(&b, "Subject: %s\r\n", subject);
    oss_buf_appendf(&b, "Message-ID: <%s@oss.local>\r\n", m->event_id);
    oss_buf_appends(&b, "MIME-Version: 1.0\r\n"
                        "Auto-Submitted: auto-generated\r\n"
                        "Content-Language: id, en\r\n");
    oss_buf_appendf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n",
                    boundary);
    oss_buf_appends(&b, "\r\nThis is a multi-part message in MIME format.\r\n");
    put_part(&b, boundary, "id", id_text);
    put_part(&b, boundary, "en", en_text);
    oss_buf_appendf(&b, "--%s--\r\n", boundary);
    if (!(*out = oss_buf_detach(&b, len)))
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    return OSS_OK;
}

/* Wipes the strings of a JSON tree (jansson does not) before decref. */
static void
json_wipe_decref(json_t *v) {
    const char *k;
    json_t *x;
    size_t i;
    if (!v)
        return;
    if (json_is_string(v))
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    else if (json_is_object(v))
        json_object_foreach(v, k, x) json_wipe_decref(json_incref(x));
    else if (json_is_array(v))
        json_array_foreach(v, i, x) json_wipe_decref(json_incref(x));
    json_decref(v);
}

static void
wipe(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Both texts of kind; -1 on failure (err set, nothing returned). */
static int
render_both(const char *kind, const json_t *vars, int64_t when_us,
            char **id_out, char **en_out, oss_err_t *err) {
    char *sid = NULL, *sen = NULL;
    *id_out = *en_out = NULL;
    if (oss_template_render(kind, "id", vars, when_us, &sid, id_out, NULL, 0,
                            err))
        return -1;
    if (oss_template_render(kind, "en", vars, when_us, &sen, en_out, NULL, 0,
                            err)) {
        free(sid);
        wipe(*id_out);
        *id_out = NULL;
        return -1;
    }
    free(sid);
    free(sen);
    return 0;
}

oss_code_t
oss_mail_compose(const oss_mail_t *m, char **out, size_t *len, oss_err_t *err) {
    *out = NULL;
    *len = 0;
    oss_code_t rc = check_headers(m, err);
    if (rc)
        return rc;
    json_t *vars =
        json_pack("{s:s, s:s}", "name", m->name ? m->name : "", "account_id",
                  m->account_id && *m->account_id ? m->account_id : "-");
    char *id = NULL, *en = NULL;
    if (!vars) {
        rc = oss_err_set(err, OSS_ENOMEM, "out of memory");
    } else if (render_both("registration", vars, m->date_us, &id, &en, err)) {
        rc = err && err->code ? err->code : OSS_ENOMEM;
    } else {
        rc = compose_parts(m,
                           "Pendaftaran akun OSS berhasil / OSS account "
                           "registered",
                           id, en, out, len, err);
    }
    wipe(id);
    wipe(en);
    json_wipe_decref(vars);
    return rc;
}

/* The two texts of an activation message (shared by e-mail and WhatsApp).
 * Returns 0, or -1 when out of memory (both freed then). */
static int
activation_texts(const oss_activation_msg_t *a, const char *name, char **id_out,
                 char **en_out) {
    json_t *vars = json_pack(
        "{s:s, s:s, s:s, s:s, s:I}", "name", name ? name : "", "account_id",
        a->account_id && *a->account_id ? a->account_id : "-", "otp",
        a->otp ? a->otp : "", "link", a->link ? a->link : "", "expires",
        (json_int_t)a->expires_at_us);
    int rc = vars ? render_both("activation", vars, a->issued_at_us, id_out,
                                en_out, NULL)
                  : -1;
    json_wipe_decref(vars);
    return rc;
}

oss_code_t
oss_mail_compose_activation(const oss_mail_t *m, const oss_activation_msg_t *a,
                            char **out, size_t *len, oss_err_t *err) {
    *out = NULL;
    *len = 0;
    oss_code_t rc = check_headers(m, err);
    if (rc)
        return rc;
    char *name = clean_name(m->name && *m->name ? m->name : NULL);
    char *id = NULL, *en = NULL;
    if (!name || activation_texts(a, name, &id, &en)) {
        free(name);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    rc = compose_parts(m,
                       "Kode aktivasi akun OSS / OSS account activation "
                       "code",
                       id, en, out, len, err);
    wipe(id);
    wipe(en);
    free(name);
    return rc;
}

oss_code_t
oss_whatsapp_compose(const oss_mail_t *m, const oss_activation_msg_t *a,
                     char **out, size_t *len, oss_err_t *err) {
    *out = NULL;
    *len = 0;
    char *name = clean_name(m->name && *m->name ? m->name : NULL);
    char *id = NULL, *en = NULL;
    if (!name || activation_texts(a, name, &id, &en)) {
        free(name);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "message_id",
                  m->event_id, "to", m->to ? m->to : "", "channel", "whatsapp",
                  "type", "activation", "text", "id", id, "en", en);
    wipe(id);
    wipe(en);
    free(name);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_wipe_decref(o);
    if (!s)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    *out = s;
    *len = strlen(s);
    return OSS_OK;
}

oss_code_t
oss_message_compose(const oss_mail_t *m, int whatsapp, const char *kind,
                    const char *subject_id, const char *subject_en,
                    const char *text_id, const char *text_en, char **out,
                    size_t *len, oss_err_t *err) {
    *out = NULL;
    *len = 0;
    if (!whatsapp) {
        char subject[512];
        oss_code_t rc = check_headers(m, err);
        if (rc)
            return rc;
        snprintf(subject, sizeof subject, "%s / %s", subject_id, subject_en);
        if (!header_safe(subject, 0))
            return oss_err_set(err, OSS_EINVAL,
                               "the subject of \"%.48s\" is not usable in a "
                               "header",
                               kind);
        return compose_parts(m, subject, text_id, text_en, out, len, err);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
                          "message_id", m->event_id, "to", m->to ? m->to : "",
                          "channel", "whatsapp", "type", kind, "subject",
                          subject_id, "text", "id", text_id, "en", text_en);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_wipe_decref(o);
    if (!s)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    *out = s;
    *len = strlen(s);
    return OSS_OK;
}

typedef struct reader {
    const char *p;
    size_t left;
} reader_t;

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *ud) {
    reader_t *r = ud;
    size_t n = size * nmemb;
    if (n > r->left)
        n = r->left;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return n;
}

/* The server's last reply line, kept by the debug callback: curl's verbose
 * channel is switched on only to feed this callback (nothing is printed);
 * what the client sends (HEADER_OUT: MAIL FROM, RCPT TO, the message) is
 * never looked at. */
typedef struct reply {
    char line[OSS_REPLY_TEXT_MAX];
    int http; /* keep the status line, not the last header */
} reply_t;

void
oss_reply_scrub(const char *in, size_t n, char *out, size_t cap) {
    size_t o = 0, i = 0;
    if (cap == 0)
        return;
    while (i < n && o + 1 < cap) {
        /* a word (up to a space) holding '@' is an address: replaced */
        size_t j = i;
        while (j < n && in[j] != ' ' && in[j] != '\t')
            j++;
        int addr = memchr(in + i, '@', j - i) != NULL;
        /* a word of 8 or more digits may be a phone number (a gateway
         * echoing "+62812...") */
        size_t digits = 0;
        for (size_t k = i; k < j; k++)
            digits += in[k] >= '0' && in[k] <= '9';
        if (!addr && digits >= 8) {
            const char *r = "[number]";
            for (; *r && o + 1 < cap; r++)
                out[o++] = *r;
        } else if (addr) {
            const char *r = "[address]";
            for (; *r && o + 1 < cap; r++)
                out[o++] = *r;
        } else {
            for (size_t k = i; k < j && o + 1 < cap; k++) {
                unsigned char c = (unsigned char)in[k];
                out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
            }
        }
        for (i = j; i < n && (in[i] == ' ' || in[i] == '\t') && o + 1 < cap;
             i++)
            out[o++] = ' ';
    }
    out[o] = '\0';
}

static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud) {
    (void)h;
    reply_t *r = ud;
    if (type != CURLINFO_HEADER_IN || size == 0)
        return 0;
    /* the last complete line of the chunk (a multi-line reply ends with
     * its final line) */
    size_t end = size;
    while (end > 0 && (data[end - 1] == '\n' || data[end - 1] == '\r'))
        end--;
    if (end == 0)
        return 0;
    size_t start = end;
    while (start > 0 && data[start - 1] != '\n')
        start--;
    if (r->http) {
        /* "HTTP/1.1 202 Accepted": keep "202 Accepted" */
        if (end - start < 9 || memcmp(data + start, "HTTP/", 5) != 0)
            return 0;
        const char *sp = memchr(data + start, ' ', end - start);
        if (!sp)
            return 0;
        start = (size_t)(sp + 1 - data);
    }
    oss_reply_scrub(data + start, end - start, r->line, sizeof r->line);
    return 0;
}

static void
watch_replies(CURL *c, reply_t *r) {
    r->line[0] = '\0';
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, r);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L); /* to the callback only */
}

static void
unwatch_replies(CURL *c) {
    curl_easy_setopt(c, CURLOPT_VERBOSE, 0L);
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, NULL);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, NULL);
}

oss_code_t
oss_mail_send_reply(void *curl, const char *url, const char *from_addr,
                    const char *to_addr, const char *msg, size_t len,
                    long *smtp_code, char *reply_text, size_t reply_cap,
                    oss_err_t *err) {
    CURL *c = curl;
    struct curl_slist *rcpt = NULL;
    char to[512];
    oss_code_t rc = OSS_OK;
    reply_t rep;
    *smtp_code = 0;
    if (reply_text && reply_cap)
        reply_text[0] = '\0';
    snprintf(to, sizeof to, "<%s>", to_addr);
    if (!(rcpt = curl_slist_append(NULL, to)))
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    reader_t r = {msg, len};
    memset(&rep, 0, sizeof rep);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from_addr);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &r);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    watch_replies(c, &rep);
    CURLcode cc = curl_easy_perform(c);
    unwatch_replies(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, smtp_code);
    if (reply_text && reply_cap)
        snprintf(reply_text, reply_cap, "%s", rep.line);
    if (cc != CURLE_OK) {
        /* the error text of curl_easy_strerror names no address */
        if (*smtp_code >= 500 && *smtp_code < 600)
            rc = oss_err_set(err, OSS_EINVAL,
                             "mail server refused the message permanently: "
                             "%s (reply %ld)",
                             curl_easy_strerror(cc), *smtp_code);
        else
            rc = oss_err_set(err, OSS_EUNAVAIL,
                             "could not send mail: %s (reply %ld)",
                             curl_easy_strerror(cc), *smtp_code);
    }
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, NULL);
    curl_easy_setopt(c, CURLOPT_READDATA, NULL);
    curl_slist_free_all(rcpt);
    return rc;
}

oss_code_t
oss_mail_send(void *curl, const char *url, const char *from_addr,
              const char *to_addr, const char *msg, size_t len, long *smtp_code,
              oss_err_t *err) {
    return oss_mail_send_reply(curl, url, from_addr, to_addr, msg, len,
                               smtp_code, NULL, 0, err);
}

static size_t
discard_cb(char *p, size_t size, size_t nmemb, void *ud) {
    (void)p;
    (void)ud;
    return size * nmemb;
}

oss_code_t
oss_http_post_json(void *curl, const char *url, const char *body, size_t len,
                   long *status, char *reply_text, size_t reply_cap,
                   oss_err_t *err) {
    CURL *c = curl_easy_init();
    (void)curl;
    reply_t rep;
    oss_code_t rc = OSS_OK;
    struct curl_slist *hdr = NULL;
    *status = 0;
    if (reply_text && reply_cap)
        reply_text[0] = '\0';
    if (!c ||
        !(hdr = curl_slist_append(NULL, "Content-Type: application/json"))) {
        if (c)
            curl_easy_cleanup(c);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    memset(&rep, 0, sizeof rep);
    rep.http = 1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    watch_replies(c, &rep);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (reply_text && reply_cap)
        snprintf(reply_text, reply_cap, "%s", rep.line);
    if (cc != CURLE_OK)
        rc = oss_err_set(err, OSS_EUNAVAIL, "could not reach the gateway: %s",
                         curl_easy_strerror(cc));
    else if (*status >= 200 && *status < 300)
        rc = OSS_OK;
    else if (*status >= 400 && *status < 500 && *status != 408 &&
             *status != 429)
        rc = oss_err_set(err, OSS_EINVAL,
                         "gateway refused the message permanently (HTTP %ld)",
                         *status);
    else
        rc = oss_err_set(err, OSS_EUNAVAIL, "gateway unavailable (HTTP %ld)",
                         *status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return rc;
}
