/* The request-line/header input rewriter in front of evhttp (filter.h).
 * A small state machine per connection: request line -> header lines ->
 * body (copied or discarded by Content-Length) -> next request line. */
#include "http/filter.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#define LINE_MAX_BYTES 8192
/* The header block (request line included) we accept; above it, or with a
 * single line over LINE_MAX_BYTES, the request is answered 431. Kept well
 * below evhttp's own limit (64 KiB, server.c) so that libevent never sees
 * an over-long block. */
#define HEADER_BLOCK_MAX (32 * 1024)
/* While skipping the rest of an over-long header block (and a body framed by
 * a Content-Length within the body limit) at most this much is read before
 * the 431 is given anyway (the connection then closes with input unread). */
#define SKIP_MAX (1024 * 1024)

/* F_SKIP_HEADERS/F_SKIP_BODY: discarding an over-long request before the
 * 431 marker is handed to evhttp; F_CLOSED: the 431 closes the connection,
 * everything after it is discarded. */
enum fstate {
    F_LINE,
    F_HEADERS,
    F_BODY,
    F_DISCARD,
    F_PASS,
    F_SKIP_HEADERS,
    F_SKIP_BODY,
    F_CLOSED
};

typedef struct filter {
    struct oss_http_filters *set;
    struct bufferevent *bev;
    struct evbuffer_cb_entry *cbent;
    struct filter *prev, *next;
    bool attached;
    size_t pending;
    enum fstate st;
    size_t header_bytes;
    unsigned long long content_length;
    bool have_cl, chunked, too_large, have_auth;
    long long started_ms; /* first byte of the current header block; 0 none */
    unsigned long long remaining;
    /* Content-Length and Transfer-Encoding are held back until the end of
     * the header block (so that an over-long block can still be handed to
     * evhttp as a request without a body) */
    bool deferred_sent;
    char te[64];
    /* skipping an over-long block */
    bool line_start;
    unsigned long long skipped;
} filter_t;

static bool
known_method(const char *m, size_t n) {
    static const char *known[] = {"GET",    "POST",    "HEAD",  "PUT",
                                  "DELETE", "OPTIONS", "TRACE", "CONNECT",
                                  "PATCH",  NULL};
    for (int i = 0; known[i]; i++)
        if (strlen(known[i]) == n && memcmp(known[i], m, n) == 0)
            return true;
    return false;
}

/* RFC 9110 tchar. */
static bool
is_tchar(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool
header_is(const char *line, size_t n, const char *name) {
    size_t k = strlen(name);
    return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

static const char *
header_value(const char *line) {
    const char *v = strchr(line, ':') + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

/* Takes one line (with its EOL) out of src into buf (NUL-terminated, EOL
 * stripped). Returns the line length without EOL, -1 when no full line is
 * there yet, -2 when the line is too long. */
static long
take_line(struct evbuffer *src, char *buf, size_t bufsz) {
    size_t eol_len = 0;
    struct evbuffer_ptr p =
        evbuffer_search_eol(src, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (p.pos < 0)
        return evbuffer_get_length(src) > LINE_MAX_BYTES ? -2 : -1;
    if ((size_t)p.pos >= bufsz)
        return -2;
    evbuffer_remove(src, buf, (size_t)p.pos);
    buf[p.pos] = '\0';
    evbuffer_drain(src, eol_len);
    return (long)p.pos;
}

/* Emits the held-back Content-Length / Transfer-Encoding once. at_end: the
 * header block ends here (an over-limit Content-Length becomes 0 plus the
 * internal header); otherwise the filter is about to pass the rest through
 * unchanged (an over-limit length is then dropped, as before). */
static void
emit_deferred(filter_t *f, struct evbuffer *dst, bool at_end) {
    if (f->deferred_sent)
        return;
    f->deferred_sent = true;
    if (f->have_cl && !f->too_large)
        evbuffer_add_printf(dst, "Content-Length: %llu\r\n", f->content_length);
    else if (f->have_cl && at_end)
        evbuffer_add_printf(dst, "Content-Length: 0\r\n%s: %llu\r\n",
                            OSS_HTTP_TOO_LARGE_HEADER, f->content_length);
    if (f->chunked)
        evbuffer_add_printf(dst, "Transfer-Encoding: %s\r\n", f->te);
}

/* The header block is over the limit: skip the rest of it (mid_line: inside
 * a line) before handing evhttp the end of a body-less request. */
static void
start_skip(filter_t *f, bool mid_line) {
    f->st = F_SKIP_HEADERS;
    f->line_start = !mid_line;
    f->skipped = 0;
}

/* Ends the (body-less) request evhttp has seen so far with the 431 marker;
 * the router answers 431 and closes, later input is discarded. */
static void
finish_skip(filter_t *f, struct evbuffer *dst) {
    evbuffer_add_printf(dst, "%s: %d\r\n\r\n",
                        OSS_HTTP_HEADERS_TOO_LARGE_HEADER, HEADER_BLOCK_MAX);
    f->st = F_CLOSED;
}

/* The request's framing or credentials are ambiguous (field names the
 * header): end it here with the bad-framing marker; the router answers 400
 * and closes, later input is discarded. */
static void
finish_bad(filter_t *f, struct evbuffer *dst, const char *field) {
    evbuffer_add_printf(dst, "%s: %s\r\n\r\n", OSS_HTTP_BAD_FRAMING_HEADER,
                        field);
    f->st = F_CLOSED;
}

static long long
now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The header block is late: end the request with the timeout marker (after
 * a synthetic request line when evhttp has seen none yet). */
static void
finish_late(filter_t *f, struct evbuffer *src, struct evbuffer *dst) {
    if (f->st == F_LINE)
        evbuffer_add_printf(dst, "GET / HTTP/1.1\r\n");
    evbuffer_add_printf(dst, "%s: %ld\r\n\r\n", OSS_HTTP_HEADER_TIMEOUT_HEADER,
                        f->set->header_timeout_ms);
    evbuffer_drain(src, evbuffer_get_length(src));
    f->st = F_CLOSED;
}

/* F_SKIP_HEADERS: drops header lines of any length up to the empty line.
 * Returns false when more input is needed. */
static bool
skip_headers(filter_t *f, struct evbuffer *src, struct evbuffer *dst) {
    size_t eol_len = 0;
    struct evbuffer_ptr p =
        evbuffer_search_eol(src, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (p.pos < 0) {
        size_t have = evbuffer_get_length(src);
        char last = 0;
        struct evbuffer_ptr q;
        if (have == 0)
            return false;
        /* keep a trailing CR: it may start the CRLF of the next read */
        evbuffer_ptr_set(src, &q, have - 1, EVBUFFER_PTR_SET);
        evbuffer_copyout_from(src, &q, &last, 1);
        size_t n = last == '\r' ? have - 1 : have;
        if (n > 0) {
            evbuffer_drain(src, n);
            f->line_start = false;
            f->skipped += n;
        }
        if (f->skipped > SKIP_MAX)
            finish_skip(f, dst);
        return f->st != F_SKIP_HEADERS;
    }
    bool blank = p.pos == 0 && f->line_start;
    evbuffer_drain(src, (size_t)p.pos + eol_len);
    f->skipped += (size_t)p.pos + eol_len;
    f->line_start = true;
    if (blank) {
        if (!f->chunked && f->have_cl && f->content_length > 0 &&
            !f->too_large) {
            f->st = F_SKIP_BODY; /* read it, so the close loses nothing */
            f->remaining = f->content_length;
        } else {
            finish_skip(f, dst);
        }
    } else if (f->skipped > SKIP_MAX) {
        finish_skip(f, dst);
    }
    return true;
}

static void
filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
          enum bufferevent_flush_mode mode, void *ctx) {
    filter_t *f = ctx;
    char line[LINE_MAX_BYTES + 1];

    while (evbuffer_get_length(src) > 0) {
        if (f->st == F_PASS) {
            evbuffer_add_buffer(dst, src);
            return;
        }
        if (f->st == F_CLOSED) {
            evbuffer_drain(src, evbuffer_get_length(src));
            return;
        }
        if (f->st == F_SKIP_HEADERS) {
            if (!skip_headers(f, src, dst))
                break;
            continue;
        }
        if (f->st == F_SKIP_BODY) {
            size_t have = evbuffer_get_length(src);
            size_t n = have < f->remaining ? have : (size_t)f->remaining;
            evbuffer_drain(src, n);
            f->remaining -= n;
            f->skipped += n;
            if (f->remaining == 0 || f->skipped > SKIP_MAX)
                finish_skip(f, dst);
            continue;
        }
        if (f->st == F_BODY || f->st == F_DISCARD) {
            size_t have = evbuffer_get_length(src);
            size_t n = have < f->remaining ? have : (size_t)f->remaining;
            if (f->st == F_BODY)
                evbuffer_remove_buffer(src, dst, n);
            else
                evbuffer_drain(src, n);
            f->remaining -= n;
            if (f->remaining == 0)
                f->st = F_LINE;
            continue;
        }
        if (!f->started_ms)
            f->started_ms = now_ms();
        long n = take_line(src, line, sizeof line);
        if (n == -1) {
            if (f->set->header_timeout_ms > 0 &&
                now_ms() - f->started_ms > f->set->header_timeout_ms)
                finish_late(f, src, dst);
            break;
        }
        if (n == -2 && f->st == F_HEADERS) { /* one over-long header */
            start_skip(f, true);
            continue;
        }
        if (n == -2) { /* let libevent judge (and answer) the rest */
            f->st = F_PASS;
            continue;
        }
        if (f->st == F_LINE) {
            if (n == 0) { /* stray CRLF between requests */
                evbuffer_add(dst, "\r\n", 2);
                f->started_ms = 0;
                continue;
            }
            size_t m = 0;
            while (m < (size_t)n && is_tchar((unsigned char)line[m]))
                m++;
            f->st = F_HEADERS;
            f->header_bytes = (size_t)n;
            f->have_cl = f->chunked = f->too_large = f->have_auth = false;
            f->deferred_sent = false;
            f->te[0] = '\0';
            f->content_length = 0;
            if (m > 0 && line[m] == ' ' && !known_method(line, m)) {
                evbuffer_add_printf(dst, "GET%s\r\n%s: %.*s\r\n", line + m,
                                    OSS_HTTP_FILTER_HEADER, (int)m, line);
            } else {
                evbuffer_add(dst, line, (size_t)n);
                evbuffer_add(dst, "\r\n", 2);
            }
            continue;
        }
        /* F_HEADERS */
        f->header_bytes += (size_t)n + 2;
        if (n > 0 && f->header_bytes > HEADER_BLOCK_MAX) {
            start_skip(f, false); /* this line is dropped too */
            continue;
        }
        if (n == 0) { /* end of the header block */
            f->started_ms = 0;
            emit_deferred(f, dst, true);
            evbuffer_add(dst, "\r\n", 2);
            if (f->chunked) {
                f->st = F_PASS;
            } else if (f->have_cl && f->content_length > 0) {
                f->st = f->too_large ? F_DISCARD : F_BODY;
                f->remaining = f->content_length;
            } else {
                f->st = F_LINE;
            }
            continue;
        }
        if (header_is(line, (size_t)n, OSS_HTTP_FILTER_HEADER) ||
            header_is(line, (size_t)n, OSS_HTTP_TOO_LARGE_HEADER) ||
            header_is(line, (size_t)n, OSS_HTTP_HEADERS_TOO_LARGE_HEADER) ||
            header_is(line, (size_t)n, OSS_HTTP_BAD_FRAMING_HEADER) ||
            header_is(line, (size_t)n, OSS_HTTP_HEADER_TIMEOUT_HEADER))
            continue; /* only we may set these */
        if (header_is(line, (size_t)n, "Authorization")) {
            if (f->have_auth) { /* which one would count? neither */
                finish_bad(f, dst, "Authorization");
                continue;
            }
            f->have_auth = true;
        }
        if (header_is(line, (size_t)n, "Content-Length")) {
            const char *v = header_value(line);
            char *end;
            unsigned long long cl = strtoull(v, &end, 10);
            while (*end == ' ' || *end == '\t')
                end++;
            if (end == v || *end || *v == '-' ||
                (f->have_cl && cl != f->content_length)) {
                /* not a length, or two lengths: the body's end is unknown
                 * (RFC 9112 section 6.3: an unrecoverable framing error) */
                finish_bad(f, dst, "Content-Length");
                continue;
            }
            if (f->have_cl)
                continue; /* the same length again: one field (RFC 9110
                             section 8.6) */
            f->have_cl = true;
            f->content_length = cl;
            if (cl > f->set->max_body)
                f->too_large = true; /* replaced at the end of the block */
            continue;
        } else if (header_is(line, (size_t)n, "Transfer-Encoding")) {
            const char *v = header_value(line);
            if (!f->chunked && strlen(v) < sizeof f->te) {
                f->chunked = true;
                snprintf(f->te, sizeof f->te, "%s", v);
                continue; /* sent at the end of the block */
            }
            /* repeated or odd: hand the rest to libevent unchanged */
            emit_deferred(f, dst, false);
            evbuffer_add(dst, line, (size_t)n);
            evbuffer_add(dst, "\r\n", 2);
            f->st = F_PASS;
            continue;
        }
        evbuffer_add(dst, line, (size_t)n);
        evbuffer_add(dst, "\r\n", 2);
    }
}

/* The evbuffer callback on a connection's input: runs inside the socket
 * read, before evhttp's read callback sees the bytes. The last f->pending
 * bytes of the buffer are raw (not yet filtered); everything before them
 * was filtered already (evhttp only ever drains from the front). */
static void
in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg) {
    filter_t *f = arg;
    struct evbuffer *head = NULL, *raw = NULL, *out = NULL;

    if (info->n_added == 0)
        return;
    f->pending += info->n_added;
    if (f->st == F_PASS && f->pending == info->n_added) {
        f->pending = 0; /* nothing to rewrite any more */
        return;
    }
    size_t total = evbuffer_get_length(buf);
    if (f->pending > total)
        f->pending = total;
    evbuffer_cb_clear_flags(buf, f->cbent, EVBUFFER_CB_ENABLED);
    head = evbuffer_new();
    raw = evbuffer_new();
    out = evbuffer_new();
    if (!head || !raw || !out) { /* out of memory: stop filtering */
        f->st = F_PASS;
        f->pending = 0;
        goto done;
    }
    evbuffer_remove_buffer(buf, head, total - f->pending);
    evbuffer_add_buffer(raw, buf);
    filter_in(raw, out, -1, BEV_NORMAL, f);
    evbuffer_add_buffer(buf, head);
    evbuffer_add_buffer(buf, out);
    f->pending = evbuffer_get_length(raw);
    evbuffer_add_buffer(buf, raw);
done:
    if (head)
        evbuffer_free(head);
    if (raw)
        evbuffer_free(raw);
    if (out)
        evbuffer_free(out);
    evbuffer_cb_set_flags(buf, f->cbent, EVBUFFER_CB_ENABLED);
}

oss_http_filters_t *
oss_http_filters_new(size_t max_body) {
    oss_http_filters_t *fs = calloc(1, sizeof *fs);
    if (fs)
        fs->max_body = max_body;
    return fs;
}

void
oss_http_filters_free(oss_http_filters_t *fs) {
    if (!fs)
        return;
    while (fs->head) {
        filter_t *f = fs->head;
        fs->head = f->next;
        free(f);
    }
    free(fs);
}

static void
unlink_filter(filter_t *f) {
    if (f->prev)
        f->prev->next = f->next;
    else
        f->set->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->set->count--;
}

struct bufferevent *
oss_http_filter_bufferevent(struct event_base *base, void *arg) {
    oss_http_filters_t *fs = arg;
    filter_t *f = calloc(1, sizeof *f);
    struct bufferevent *bev = NULL;

    if (!f)
        return NULL; /* evhttp falls back to a plain socket bufferevent */
    bev = bufferevent_socket_new(base, -1, 0);
    if (!bev) {
        free(f);
        return NULL;
    }
    f->set = fs;
    f->bev = bev;
    f->cbent = evbuffer_add_cb(bufferevent_get_input(bev), in_cb, f);
    if (!f->cbent) {
        bufferevent_free(bev);
        free(f);
        return NULL;
    }
    f->next = fs->head;
    if (fs->head)
        fs->head->prev = f;
    fs->head = f;
    fs->count++;
    return bev;
}

static void
on_close(struct evhttp_connection *evcon, void *arg) {
    filter_t *f = arg;
    unlink_filter(f);
    free(f);
}

void
oss_http_filter_attach(oss_http_filters_t *fs,
                       struct evhttp_connection *evcon) {
    if (!fs || !evcon)
        return;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    for (filter_t *f = fs->head; f; f = f->next)
        if (f->bev == bev) {
            if (!f->attached) {
                f->attached = true;
                evhttp_connection_set_closecb(evcon, on_close, f);
            }
            return;
        }
}
