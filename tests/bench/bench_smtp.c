/* smtp: the raw baseline of the notifier's drain rate (issue 11, item 6):
 * a plain libcurl loop, `clients` threads each with one easy handle (so its
 * SMTP connection is reused, as each notifier sender's is), handing over
 * `count` messages of `size` bytes in all to the same sink the notifier
 * uses. No database, no templates, no ledger, no outcome events: what is
 * left is the sink's and the SMTP dialogue's own cost.
 *
 *   oss-bench smtp --url smtp://127.0.0.1:2525 --clients 4 --count 2000
 *                  [--size 2700] */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct smtp_ctx {
    const char *url;
    size_t size;
    char *body; /* the message, shared read-only */
} smtp_ctx_t;

typedef struct smtp_state {
    const smtp_ctx_t *ctx;
    CURL *curl;
    struct curl_slist *rcpt;
    size_t off;
} smtp_state_t;

static size_t
read_cb(char *buf, size_t size, size_t n, void *arg) {
    smtp_state_t *s = arg;
    size_t left = s->ctx->size - s->off, want = size * n;
    if (want > left)
        want = left;
    memcpy(buf, s->ctx->body + s->off, want);
    s->off += want;
    return want;
}

static void *
smtp_init(void *arg, int idx) {
    (void)idx;
    smtp_state_t *s = calloc(1, sizeof *s);
    if (!s || !(s->curl = curl_easy_init())) {
        free(s);
        return NULL;
    }
    s->ctx = arg;
    s->rcpt = curl_slist_append(NULL, "<bench@example.co.id>");
    curl_easy_setopt(s->curl, CURLOPT_URL, s->ctx->url);
    curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, "<noreply@oss.local>");
    curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, s->rcpt);
    curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(s->curl, CURLOPT_READDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE,
                     (curl_off_t)s->ctx->size);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    return s;
}

static int
smtp_op(void *arg) {
    smtp_state_t *s = arg;
    s->off = 0;
    long code = 0;
    CURLcode cc = curl_easy_perform(s->curl);
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    return cc == CURLE_OK && code == 250 ? 0 : -1;
}

static void
smtp_fini(void *arg) {
    smtp_state_t *s = arg;
    curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->rcpt);
    free(s);
}

int
bench_cmd_smtp(int argc, char **argv) {
    smtp_ctx_t ctx = {
        .url = bench_opt(argc, argv, "--url", "smtp://127.0.0.1:2525")};
    int clients = atoi(bench_opt(argc, argv, "--clients", "4"));
    long count = atol(bench_opt(argc, argv, "--count", "2000"));
    ctx.size = (size_t)atol(bench_opt(argc, argv, "--size", "2700"));
    if (clients < 1 || clients > 64 || count < 1 || ctx.size < 64 ||
        ctx.size > 1000000) {
        fprintf(stderr, "oss-bench smtp: bad options\n");
        return 2;
    }
    /* a message shaped like the notifier's: headers, then CRLF lines */
    if (!(ctx.body = malloc(ctx.size))) {
        fprintf(stderr, "oss-bench smtp: out of memory\n");
        return 1;
    }
    int h = snprintf(ctx.body, ctx.size,
                     "From: OSS <noreply@oss.local>\r\n"
                     "To: <bench@example.co.id>\r\n"
                     "Subject: oss-bench smtp\r\n"
                     "Message-ID: <bench@oss.local>\r\n\r\n");
    for (size_t i = (size_t)h; i < ctx.size; i++)
        ctx.body[i] = (i - (size_t)h) % 72 == 70   ? '\r'
                      : (i - (size_t)h) % 72 == 71 ? '\n'
                                                   : 'x';
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int64_t ok = 0, failed = 0;
    double el = 0;
    int rc = bench_run_clients(clients, 600, count, smtp_init, smtp_op,
                               smtp_fini, &ctx, &ok, &failed, &el);
    printf("RESULT op=smtp clients=%d ok=%lld failed=%lld seconds=%.3f "
           "rate=%.1f\n",
           clients, (long long)ok, (long long)failed, el,
           el > 0 ? (double)ok / el : 0);
    free(ctx.body);
    curl_global_cleanup();
    return rc == 0 && ok > 0 ? 0 : 1;
}
