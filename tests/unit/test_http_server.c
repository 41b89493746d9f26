/* In-process tests of the HTTP server (src/http): a server on an ephemeral
 * loopback port, its loop on a thread, raw-socket clients. Covers what the
 * input rewriter must get right on one keep-alive connection: unknown
 * methods answered 405 in JSON, an over-limit body answered 413 before it
 * is read and then skipped, injected internal headers ignored, requests
 * split into single bytes, chunked bodies, and replies from another thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "http/http.h"

static struct event_base *base;
static oss_http_server_t *srv;
static pthread_t loop_thread;
static struct event *keepalive;

static void
h_ping(oss_http_req_t *req, void *arg) {
    oss_http_reply_json(req, 200, strdup("{\"pong\":true}"), NULL);
}

static void *
reply_later(void *arg) {
    oss_http_req_t *req = arg;
    size_t n;
    const char *b = oss_http_req_body(req, &n);
    char *copy = strndup(b, n);
    oss_http_reply_json(req, 200, copy, NULL);
    return NULL;
}

/* replies from another thread, as the API's workers do */
static void
h_echo(oss_http_req_t *req, void *arg) {
    pthread_t t;
    pthread_create(&t, NULL, reply_later, req);
    pthread_detach(t);
}

static const oss_http_route_t routes[] = {
    {"GET", "/ping", "/ping", h_ping, false},
    {"POST", "/echo", "/echo", h_echo, true},
    {"GET", "/items/*", "/items/{id}", h_ping, false},
};

static void
tick(evutil_socket_t fd, short what, void *arg) {
}

static void *
loop_main(void *arg) {
    event_base_dispatch(base);
    return NULL;
}

static int
setup(void **state) {
    oss_err_t err;
    evthread_use_pthreads();
    base = event_base_new();
    oss_http_options_t opt = {.listen = "127.0.0.1",
                              .port = 0,
                              .max_body = 4096,
                              .retry_after_s = 7,
                              .method_filter = true,
                              .header_timeout_ms = 1500};
    if (oss_http_server_new(base, &opt, routes, 3, NULL, &srv, &err) != OSS_OK)
        return -1;
    struct timeval tv = {1, 0};
    keepalive = event_new(base, -1, EV_PERSIST, tick, NULL);
    event_add(keepalive, &tv);
    pthread_create(&loop_thread, NULL, loop_main, NULL);
    return 0;
}

static int
teardown(void **state) {
    event_base_loopbreak(base);
    pthread_join(loop_thread, NULL);
    oss_http_server_free(srv);
    event_free(keepalive);
    event_base_free(base);
    return 0;
}

static int
connect_srv(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)oss_http_server_port(srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void
send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        assert_true(k > 0);
        p += k;
        n -= (size_t)k;
    }
}

/* Reads until the peer stays quiet for 300 ms (or closes). */
static char *
read_all(int fd) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 300) <= 0)
            break;
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    return buf;
}

/* Writes the status codes of every response in s, in order, into out. */
static int
statuses(const char *s, int *out, int max) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, "HTTP/1.1 ")) && n < max; p += 9)
        out[n++] = atoi(p + 9);
    return n;
}

static void
test_pipelined_unknown_method(void **state) {
    int fd = connect_srv();
    const char *req = "PROPFIND /ping HTTP/1.1\r\nHost: t\r\n\r\n"
                      "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"
                      "BREW /nowhere HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, strlen(req));
    char *resp = read_all(fd);
    int st[8];
    assert_int_equal(statuses(resp, st, 8), 3);
    assert_int_equal(st[0], 405);
    assert_int_equal(st[1], 200);
    assert_int_equal(st[2], 404);
    assert_non_null(strstr(resp, "Allow: GET, HEAD"));
    assert_non_null(strstr(resp, "\"code\":\"method_not_allowed\""));
    assert_null(strstr(resp, "<html"));
    free(resp);
    close(fd);
}

static void
test_too_large_then_next_request(void **state) {
    int fd = connect_srv();
    const char *head = "POST /echo HTTP/1.1\r\nHost: t\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 200000\r\n\r\n";
    send_all(fd, head, strlen(head));
    char *body = malloc(200000);
    memset(body, '{', 200000);
    send_all(fd, body, 200000);
    free(body);
    const char *next = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, next, strlen(next));
    char *resp = read_all(fd);
    int st[8];
    assert_int_equal(statuses(resp, st, 8), 2);
    assert_int_equal(st[0], 413);
    assert_int_equal(st[1], 200);
    assert_non_null(strstr(resp, "payload_too_large"));
    free(resp);
    close(fd);
}

static void
test_injected_headers_ignored(void **state) {
    int fd = connect_srv();
    const char *req = "GET /ping HTTP/1.1\r\nHost: t\r\n"
                      "X-Oss-Original-Method: PATCH\r\n"
                      "X-Oss-Body-Too-Large: 99\r\n\r\n";
    send_all(fd, req, strlen(req));
    char *resp = read_all(fd);
    int st[4];
    assert_int_equal(statuses(resp, st, 4), 1);
    assert_int_equal(st[0], 200);
    free(resp);
    close(fd);
}

static void
test_byte_by_byte_and_thread_reply(void **state) {
    int fd = connect_srv();
    const char *req = "POST /echo HTTP/1.1\r\nHost: t\r\n"
                      "Content-Type: application/json\r\n"
                      "X-Correlation-Id: unit-cid-1\r\n"
                      "Content-Length: 11\r\n\r\n{\"a\":\"b c\"}"
                      "FROB /ping HTTP/1.1\r\nHost: t\r\n\r\n";
    for (const char *p = req; *p; p++) {
        send_all(fd, p, 1);
        if ((p - req) % 7 == 0)
            usleep(1000);
    }
    char *resp = read_all(fd);
    int st[4];
    assert_int_equal(statuses(resp, st, 4), 2);
    assert_int_equal(st[0], 200);
    assert_int_equal(st[1], 405);
    assert_non_null(strstr(resp, "{\"a\":\"b c\"}"));
    assert_non_null(strstr(resp, "X-Correlation-Id: unit-cid-1"));
    free(resp);
    close(fd);
}

static void
test_chunked_and_content_type(void **state) {
    int fd = connect_srv();
    const char *req = "POST /echo HTTP/1.1\r\nHost: t\r\n"
                      "Content-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "3\r\n{\"x\r\n5\r\n\":1}\n\r\n0\r\n\r\n"
                      "POST /echo HTTP/1.1\r\nHost: t\r\n"
                      "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}";
    send_all(fd, req, strlen(req));
    char *resp = read_all(fd);
    int st[4];
    assert_int_equal(statuses(resp, st, 4), 2);
    assert_int_equal(st[0], 200);
    assert_int_equal(st[1], 415);
    free(resp);
    close(fd);
}

/* Sends head, then a header line of hlen bytes (or nhdr short ones), then
 * tail; returns the whole answer up to the server's close. */
static char *
send_big_headers(const char *head, size_t hlen, int nhdr, const char *tail) {
    int fd = connect_srv();
    send_all(fd, head, strlen(head));
    if (hlen > 0) {
        char *v = malloc(hlen + 16);
        memcpy(v, "X-Big: ", 7);
        memset(v + 7, 'v', hlen);
        memcpy(v + 7 + hlen, "\r\n", 2);
        /* in pieces, as a slow client would */
        for (size_t off = 0; off < hlen + 9; off += 5000)
            send_all(fd, v + off,
                     hlen + 9 - off < 5000 ? hlen + 9 - off : 5000);
        free(v);
    }
    for (int i = 0; i < nhdr; i++) {
        char h[64];
        int k = snprintf(h, sizeof h, "X-Many-%d: some value\r\n", i);
        send_all(fd, h, (size_t)k);
    }
    send_all(fd, tail, strlen(tail));
    char *resp = read_all(fd);
    close(fd);
    return resp;
}

static void
test_header_fields_too_large(void **state) {
    int st[4];
    /* one 100 KB header, then a pipelined request that must not be served */
    char *resp =
        send_big_headers("GET /ping HTTP/1.1\r\nHost: t\r\n", 100000, 0,
                         "\r\nGET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(statuses(resp, st, 4), 1);
    assert_int_equal(st[0], 431);
    assert_non_null(strstr(resp, "\"code\":\"headers_too_large\""));
    assert_non_null(strstr(resp, "Connection: close"));
    assert_null(strstr(resp, "<html"));
    free(resp);
    /* many short headers over the block limit, on a POST with a body */
    resp = send_big_headers("POST /echo HTTP/1.1\r\nHost: t\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: 7\r\n",
                            0, 3000, "\r\n{\"a\":1}");
    assert_int_equal(statuses(resp, st, 4), 1);
    assert_int_equal(st[0], 431);
    assert_null(strstr(resp, "{\"a\":1}"));
    free(resp);
    /* a big header within the limits is served, body and all */
    resp = send_big_headers("POST /echo HTTP/1.1\r\nHost: t\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: 7\r\n",
                            6000, 500, "\r\n{\"a\":1}");
    assert_int_equal(statuses(resp, st, 4), 1);
    assert_int_equal(st[0], 200);
    assert_non_null(strstr(resp, "{\"a\":1}"));
    free(resp);
    /* a chunked body after an over-long block: 431, no hang */
    resp = send_big_headers("POST /echo HTTP/1.1\r\nHost: t\r\n"
                            "Transfer-Encoding: chunked\r\n"
                            "Content-Type: application/json\r\n",
                            9000, 0, "\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n");
    assert_int_equal(statuses(resp, st, 4), 1);
    assert_int_equal(st[0], 431);
    free(resp);
}

/* RFC 9112 section 6.3: two Content-Length values leave the body's end
 * unknown; the bytes after the header block must never be parsed as a
 * second request (request smuggling). 400 in JSON, then the connection
 * closes. */
static void
test_conflicting_content_length(void **state) {
    int fd = connect_srv();
    const char *req = "POST /echo HTTP/1.1\r\nHost: t\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 2\r\nContent-Length: 40\r\n\r\n"
                      "{}GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, strlen(req));
    char *resp = read_all(fd);
    int st[8];
    assert_int_equal(statuses(resp, st, 8), 1);
    assert_int_equal(st[0], 400);
    assert_non_null(strstr(resp, "\"code\":\"ambiguous_framing\""));
    assert_non_null(strstr(resp, "\"field\":\"Content-Length\""));
    assert_non_null(strstr(resp, "Connection: close"));
    assert_null(strstr(resp, "pong"));
    free(resp);
    close(fd);
    /* the same length twice is one field (RFC 9110 section 8.6) */
    fd = connect_srv();
    req = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
          "\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}";
    send_all(fd, req, strlen(req));
    resp = read_all(fd);
    assert_int_equal(statuses(resp, st, 8), 1);
    assert_int_equal(st[0], 200);
    free(resp);
    close(fd);
    /* a length that is not a number: our JSON 400, not libevent's HTML */
    fd = connect_srv();
    req = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2x\r\n\r\n{}";
    send_all(fd, req, strlen(req));
    resp = read_all(fd);
    assert_int_equal(statuses(resp, st, 8), 1);
    assert_int_equal(st[0], 400);
    assert_non_null(strstr(resp, "ambiguous_framing"));
    assert_null(strstr(resp, "<html"));
    free(resp);
    close(fd);
}

/* Two Authorization fields: which credentials count is ambiguous. */
static void
test_repeated_authorization(void **state) {
    int fd = connect_srv();
    const char *req = "GET /ping HTTP/1.1\r\nHost: t\r\n"
                      "Authorization: Bearer a\r\n"
                      "Authorization: Bearer b\r\n\r\n"
                      "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, strlen(req));
    char *resp = read_all(fd);
    int st[8];
    assert_int_equal(statuses(resp, st, 8), 1);
    assert_int_equal(st[0], 400);
    assert_non_null(strstr(resp, "\"code\":\"ambiguous_credentials\""));
    assert_non_null(strstr(resp, "\"field\":\"Authorization\""));
    free(resp);
    close(fd);
}

/* A method token of any length gets our JSON answer (405 on a known path,
 * 404 elsewhere), never libevent's HTML 501. */
static void
test_long_method_token(void **state) {
    char req[256];
    snprintf(req, sizeof req,
             "%s /ping HTTP/1.1\r\nHost: t\r\n\r\n"
             "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n",
             "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ");
    int fd = connect_srv();
    send_all(fd, req, strlen(req));
    char *resp = read_all(fd);
    int st[8];
    assert_int_equal(statuses(resp, st, 8), 2);
    assert_int_equal(st[0], 405);
    assert_int_equal(st[1], 200);
    assert_non_null(strstr(resp, "method_not_allowed"));
    assert_null(strstr(resp, "<html"));
    free(resp);
    close(fd);
}

/* A client trickling its header block (one byte every few hundred ms) is
 * answered 408 in JSON and closed once the block is later than the
 * deadline (1.5 s here), whether or not its request line is complete; a
 * slow but timely one is served. */
static void
test_trickled_headers_timeout(void **state) {
    const char *parts[] = {"GET /ping HTTP/1.1\r\nHost: t\r\nX-A: ", "GET /pi"};
    for (int k = 0; k < 2; k++) {
        int fd = connect_srv();
        send_all(fd, parts[k], strlen(parts[k]));
        int closed = 0;
        for (int i = 0; i < 12 && !closed; i++) { /* up to 2.4 s */
            usleep(200 * 1000);
            closed = send(fd, "x", 1, MSG_NOSIGNAL) != 1;
        }
        char *resp = read_all(fd);
        int st[4];
        assert_int_equal(statuses(resp, st, 4), 1);
        assert_int_equal(st[0], 408);
        assert_non_null(strstr(resp, "\"code\":\"request_timeout\""));
        assert_non_null(strstr(resp, "Connection: close"));
        free(resp);
        close(fd);
    }
    int fd = connect_srv();
    const char *req = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
    for (const char *p = req; *p; p++) {
        send_all(fd, p, 1);
        usleep(20 * 1000); /* about 0.7 s in all: within the deadline */
    }
    char *resp = read_all(fd);
    int st[4];
    assert_int_equal(statuses(resp, st, 4), 1);
    assert_int_equal(st[0], 200);
    free(resp);
    close(fd);
}

static void
test_metrics_text(void **state) {
    char *m = oss_http_server_metrics(srv);
    assert_non_null(m);
    assert_non_null(strstr(m, "# TYPE oss_http_requests_total counter"));
    assert_non_null(strstr(m, "oss_http_requests_total{route=\"/ping\","
                              "method=\"GET\",status=\"200\"}"));
    assert_non_null(strstr(m, "oss_http_request_duration_seconds_bucket{"
                              "route=\"/ping\",method=\"GET\",le=\"+Inf\"}"));
    assert_non_null(strstr(m, "method=\"other\",status=\"405\""));
    free(m);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_unknown_method),
        cmocka_unit_test(test_too_large_then_next_request),
        cmocka_unit_test(test_injected_headers_ignored),
        cmocka_unit_test(test_byte_by_byte_and_thread_reply),
        cmocka_unit_test(test_chunked_and_content_type),
        cmocka_unit_test(test_header_fields_too_large),
        cmocka_unit_test(test_conflicting_content_length),
        cmocka_unit_test(test_repeated_authorization),
        cmocka_unit_test(test_long_method_token),
        cmocka_unit_test(test_trickled_headers_timeout),
        cmocka_unit_test(test_metrics_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
