/* An input rewriter in front of evhttp (installed with evhttp_set_bevcb as
 * an evbuffer callback on the connection's input, so output is untouched)
 * that makes two things libevent 2.1 would answer with HTML reach our JSON
 * code:
 *  - a request line whose method token libevent does not know (PROPFIND,
 *    BREW, lower-case "get") is rewritten to GET and the original token is
 *    passed in the header OSS_HTTP_FILTER_HEADER, so the router answers 405;
 *  - a Content-Length above the configured body limit is rewritten to 0 with
 *    the original length in OSS_HTTP_TOO_LARGE_HEADER, and the body bytes are
 *    discarded as they arrive (never buffered), so the router answers 413
 *    before the body is read;
 *  - a header block over 32 KiB (or one header line over 8 KiB) is skipped
 *    to its end (and a Content-Length body within the limit is read and
 *    dropped), then evhttp gets the request line and the headers seen so
 *    far, without a body, plus OSS_HTTP_HEADERS_TOO_LARGE_HEADER, so the
 *    router answers 431 and closes; later input is discarded;
 *  - a request whose framing or credentials are ambiguous (RFC 9112 section
 *    6.3: Content-Length repeated with another value, or not a number; two
 *    Authorization fields) ends at that header line: evhttp gets it
 *    without a body plus OSS_HTTP_BAD_FRAMING_HEADER (the offending
 *    field's name), the router answers 400 and closes, later input is
 *    discarded (never parsed as a second request);
 *  - a header block still incomplete header_timeout_ms after its first byte
 *    (checked as bytes arrive: a client trickling its headers) ends there:
 *    evhttp gets the request so far (a synthetic request line when even
 *    that was incomplete) plus OSS_HTTP_HEADER_TIMEOUT_HEADER, the router
 *    answers 408 and closes. A client that stops sending altogether is
 *    closed by evhttp's own 30 s timeout.
 * Clients cannot inject these headers: the filter drops incoming copies.
 * Content-Length and Transfer-Encoding are passed on at the end of the
 * header block. The filter follows HTTP/1.1 framing by Content-Length; after
 * a chunked request, a malformed line or an over-long request line it stops
 * rewriting for the rest of that connection (libevent then answers on its
 * own).
 * Loop thread only. */
#ifndef OSS_HTTP_FILTER_H
#define OSS_HTTP_FILTER_H

#include <stddef.h>

struct bufferevent;
struct evhttp_connection;
struct event_base;

#define OSS_HTTP_FILTER_HEADER "X-Oss-Original-Method"
#define OSS_HTTP_TOO_LARGE_HEADER "X-Oss-Body-Too-Large"
#define OSS_HTTP_HEADERS_TOO_LARGE_HEADER "X-Oss-Headers-Too-Large"
#define OSS_HTTP_BAD_FRAMING_HEADER "X-Oss-Bad-Framing"
#define OSS_HTTP_HEADER_TIMEOUT_HEADER "X-Oss-Header-Timeout"

typedef struct oss_http_filters {
    struct filter *head;
    size_t count;
    size_t max_body;
    long header_timeout_ms; /* see oss_http_options_t */
} oss_http_filters_t;

/* The per-server set of connection filters. Returns new, caller frees with
 * oss_http_filters_free() after evhttp_free(). NULL on OOM. */
oss_http_filters_t *oss_http_filters_new(size_t max_body);
void oss_http_filters_free(oss_http_filters_t *fs);

/* evhttp bevcb: a new socket bufferevent for one connection whose input
 * buffer carries the rewriting callback. arg is the oss_http_filters_t.
 * Returns NULL on OOM (evhttp then makes a plain one). */
struct bufferevent *oss_http_filter_bufferevent(struct event_base *base,
                                                void *arg);

/* Called for each dispatched request: ties the filter's lifetime to the
 * connection (freed by its close callback). A connection closed before any
 * request was dispatched keeps its small filter state until the server is
 * freed (libevent 2.1 offers no hook to learn of it). */
void oss_http_filter_attach(oss_http_filters_t *fs,
                            struct evhttp_connection *evcon);

#endif
