/* The registration mail: composition (RFC 5322 + MIME, quoted-printable) and
 * delivery over SMTP with libcurl. Never logs: callers decide what to say,
 * and nothing here puts an address or a name into an error message. */
#include "notifier.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

static void
sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_puts(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void
sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

char *
oss_mail_qp(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    sbuf_t b = {0};
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            sb_puts(&b, "\r\n");
            col = 0;
            continue;
        }
        if (c == '\r')
            continue;
        char enc[4];
        size_t el;
        int trailing_ws = (c == ' ' || c == '\t') &&
                          (i + 1 == n || s[i + 1] == '\n' || s[i + 1] == '\r');
        if ((c >= 33 && c <= 126 && c != '=') ||
            ((c == ' ' || c == '\t') && !trailing_ws)) {
            enc[0] = (char)c;
            el = 1;
        } else {
            enc[0] = '=';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            el = 3;
        }
        if (col + el > 75) { /* soft line break keeps lines <= 76 */
            sb_puts(&b, "=\r\n");
            col = 0;
        }
        sb_put(&b, enc, el);
        col += el;
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (!b.p)
        return calloc(1, 1);
    return b.p;
}

void
oss_mail_envelope_addr(const char *from, char *out, size_t outlen)
{
    const char *lt = strrchr(from, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        snprintf(out, outlen, "%.*s", (int)(gt - lt + 1), lt);
    else
        snprintf(out, outlen, "<%s>", from);
}

/* 1 when s may appear in a header: printable ASCII, no angle brackets. */
static int
header_safe(const char *s, int is_addr)
{
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
clean_name(const char *name)
{
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
put_part(sbuf_t *b, const char *boundary, const char *lang, const char *text)
{
    char *qp = oss_mail_qp(text, strlen(text));
    if (!qp) {
        b->oom = 1;
        return;
    }
    sb_printf(b,
              "--%s\r\n"
              "Content-Type: text/plain; charset=UTF-8\r\n"
              "Content-Language: %s\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n"
              "\r\n",
              boundary, lang);
    sb_puts(b, qp);
    sb_puts(b, "\r\n");
    free(qp);
}

oss_code_t
oss_mail_compose(const oss_mail_t *m, char **out, size_t *len, oss_err_t *err)
{
    *out = NULL;
    *len = 0;
    if (!header_safe(m->to, 1))
        return oss_err_field(err, OSS_EINVAL, "email",
                             "recipient address is not usable in a header");
    if (!header_safe(m->from, 0) || !header_safe(m->event_id, 0) ||
        strchr(m->event_id, '>') || strchr(m->event_id, '<'))
        return oss_err_set(err, OSS_EINVAL,
                           "sender or event id is not usable in a header");
    char *name = clean_name(m->name && *m->name ? m->name : NULL);
    if (!name)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    const char *account = m->account_id && *m->account_id ? m->account_id : "-";

    char date[64];
    time_t t = (time_t)(m->date_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);

    char boundary[96];
    snprintf(boundary, sizeof boundary, "=_oss_%s", m->event_id);

    sbuf_t b = {0};
    sb_printf(&b, "Date: %s\r\n", date);
    sb_printf(&b, "From: %s\r\n", m->from);
    sb_printf(&b, "To: <%s>\r\n", m->to);
    sb_puts(&b, "Subject: Pendaftaran akun OSS berhasil / OSS account "
                "registered\r\n");
    sb_printf(&b, "Message-ID: <%s@oss.local>\r\n", m->event_id);
    sb_puts(&b, "MIME-Version: 1.0\r\n"
                "Auto-Submitted: auto-generated\r\n"
                "Content-Language: id, en\r\n");
    sb_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n",
              boundary);
    sb_puts(&b, "\r\nThis is a multi-part message in MIME format.\r\n");

    sbuf_t id = {0}, en = {0};
    sb_printf(&id, "Yth. %s,\n\n", *name ? name : "Pelaku Usaha");
    sb_puts(&id, "Terima kasih telah mendaftar di OSS (Online Single "
                 "Submission).\n");
    sb_printf(&id, "Akun Anda telah tercatat dengan nomor akun %s.\n\n",
              account);
    sb_puts(&id, "Langkah berikutnya: aktifkan akun Anda melalui tautan atau "
                 "kode OTP yang\nakan kami kirimkan, lalu lengkapi data "
                 "usaha Anda untuk memperoleh NIB.\n\n"
                 "Jika Anda tidak merasa mendaftar, abaikan surel ini.\n\n"
                 "Hormat kami,\nLembaga OSS\n\n"
                 "(Surel ini dikirim otomatis; mohon tidak membalas.)\n");
    sb_printf(&en, "Dear %s,\n\n", *name ? name : "business owner");
    sb_puts(&en, "Thank you for registering with OSS (Online Single "
                 "Submission).\n");
    sb_printf(&en, "Your account has been recorded with account number %s.\n\n",
              account);
    sb_puts(&en, "Next step: activate your account with the link or OTP we "
                 "will send you,\nthen complete your business data to "
                 "obtain an NIB.\n\n"
                 "If you did not register, please ignore this e-mail.\n\n"
                 "Regards,\nOSS Agency\n\n"
                 "(This e-mail was sent automatically; please do not reply.)\n");
    if (!id.oom && !en.oom) {
        put_part(&b, boundary, "id", id.p);
        put_part(&b, boundary, "en", en.p);
    }
    sb_printf(&b, "--%s--\r\n", boundary);
    int oom = b.oom || id.oom || en.oom;
    free(id.p);
    free(en.p);
    free(name);
    if (oom) {
        free(b.p);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    *out = b.p;
    *len = b.len;
    return OSS_OK;
}

typedef struct reader {
    const char *p;
    size_t left;
} reader_t;

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
    reader_t *r = ud;
    size_t n = size * nmemb;
    if (n > r->left)
        n = r->left;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return n;
}

oss_code_t
oss_mail_send(void *curl, const char *url, const char *from_addr,
              const char *to_addr, const char *msg, size_t len,
              long *smtp_code, oss_err_t *err)
{
    CURL *c = curl;
    struct curl_slist *rcpt = NULL;
    char to[512];
    oss_code_t rc = OSS_OK;
    *smtp_code = 0;
    snprintf(to, sizeof to, "<%s>", to_addr);
    if (!(rcpt = curl_slist_append(NULL, to)))
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    reader_t r = {msg, len};
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
    curl_easy_setopt(c, CURLOPT_VERBOSE, 0L); /* verbose output names addresses */
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, smtp_code);
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
    curl_slist_free_all(rcpt);
    return rc;
}
