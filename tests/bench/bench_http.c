/* oss-bench: the HTTP side: a small keep-alive HTTP/1.1 client over raw
 * sockets (one connection per client thread), valid and unique account
 * registrations (NIKs per ../shared/DOMAIN.md), append throughput through
 * the API, command-to-read-model latency (POST, then poll rm.accounts until
 * the row is there: GET /v1/accounts/{id} needs a session), and sign-ups
 * end to end (register, activate with the OTP, set the password). */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- a minimal HTTP/1.1 client ----------------------------------------- */

typedef struct hconn {
    int fd;
    struct sockaddr_in addr;
    char host[64];
    char *buf; /* response bytes read so far */
    size_t len, cap;
} hconn_t;

/* Parses OSS_API_URL (http://127.0.0.1:PORT only: loopback). */
static int
h_init(hconn_t *h, const char *url) {
    memset(h, 0, sizeof *h);
    h->fd = -1;
    int port = 80;
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *hp = url + 7;
    size_t hl = strcspn(hp, ":/");
    if (hl == 0 || hl >= sizeof h->host)
        return -1;
    memcpy(h->host, hp, hl);
    h->host[hl] = '\0';
    if (hp[hl] == ':')
        port = atoi(hp + hl + 1);
    if (strcmp(h->host, "localhost") == 0)
        snprintf(h->host, sizeof h->host, "127.0.0.1");
    h->addr.sin_family = AF_INET;
    h->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, h->host, &h->addr.sin_addr) != 1 ||
        (ntohl(h->addr.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "oss-bench: %s is not a loopback address\n", url);
        return -1;
    }
    h->cap = 1 << 16;
    h->buf = malloc(h->cap);
    return h->buf ? 0 : -1;
}

static void
h_close(hconn_t *h) {
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->len = 0;
}

static void
h_free(hconn_t *h) {
    h_close(h);
    free(h->buf);
    h->buf = NULL;
}

static int
h_connect(hconn_t *h) {
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0)
        return -1;
    int one = 1;
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {10, 0};
    setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(h->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(h->fd, (struct sockaddr *)&h->addr, sizeof h->addr) != 0) {
        h_close(h);
        return -1;
    }
    h->len = 0;
    return 0;
}

static int
h_write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more bytes into h->buf; 0 on data, -1 on EOF or error, -2 on a
 * receive timeout. */
static int
h_fill(hconn_t *h) {
    if (h->len + 4096 > h->cap) {
        size_t nc = h->cap * 2;
        if (nc > (64u << 20))
            return -1;
        char *p = realloc(h->buf, nc);
        if (!p)
            return -1;
        h->buf = p;
        h->cap = nc;
    }
    ssize_t r;
    do
        r = recv(h->fd, h->buf + h->len, h->cap - h->len - 1, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -2;
    if (r <= 0)
        return -1;
    h->len += (size_t)r;
    h->buf[h->len] = '\0';
    return 0;
}

/* One request on the keep-alive connection (reconnecting once when the
 * server closed it). The response body (NUL-terminated, truncated to
 * bodycap) goes to body. Returns the status, or -1. */
static int
h_request(hconn_t *h, const char *method, const char *path, const char *ctype,
          const char *payload, char *body, size_t bodycap) {
    char head[1024];
    size_t plen = payload ? strlen(payload) : 0;
    int hn;
    if (payload)
        hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      method, path, h->host, ctype, plen);
    else
        hn = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                      method, path, h->host);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->fd < 0 && h_connect(h) != 0)
            return -1;
        if (h_write_all(h->fd, head, (size_t)hn) != 0 ||
            (plen && h_write_all(h->fd, payload, plen) != 0)) {
            h_close(h);
            continue;
        }
        h->len = 0;
        char *eoh = NULL;
        int fr = 0;
        h->buf[0] = '\0';
        while (!(eoh = strstr(h->buf, "\r\n\r\n"))) {
            if ((fr = h_fill(h)) != 0)
                break;
        }
        if (!eoh) {
            /* retry only when the server closed an idle keep-alive before
             * answering anything: never resend after a timeout */
            int retry = fr == -1 && h->len == 0 && attempt == 0;
            h_close(h);
            if (retry)
                continue;
            return -1;
        }
        h->buf[h->len] = '\0';
        int status = 0;
        if (sscanf(h->buf, "HTTP/1.%*d %d", &status) != 1) {
            h_close(h);
            return -1;
        }
        size_t hlen = (size_t)(eoh - h->buf) + 4;
        long clen = -1;
        int close_after = 0, chunked = 0;
        for (char *l = strstr(h->buf, "\r\n"); l && l < eoh;
             l = strstr(l + 2, "\r\n")) {
            const char *f = l + 2;
            if (strncasecmp(f, "Content-Length:", 15) == 0)
                clen = atol(f + 15);
            else if (strncasecmp(f, "Connection:", 11) == 0 &&
                     strstr(f, "close") &&
                     strstr(f, "close") < strstr(f, "\r\n"))
                close_after = 1;
            else if (strncasecmp(f, "Transfer-Encoding:", 18) == 0)
                chunked = 1;
        }
        if (chunked) {
            /* not expected from evhttp for our replies; read until the
             * terminating chunk and drop the body */
            while (!strstr(h->buf + hlen, "\r\n0\r\n\r\n") &&
                   strncmp(h->buf + hlen, "0\r\n\r\n", 5) != 0)
                if (h_fill(h) != 0)
                    break;
            if (body && bodycap)
                body[0] = '\0';
            h_close(h);
            return status;
        }
        if (status == 204 || status == 304 || status / 100 == 1)
            clen = 0; /* no body, and evhttp sends no Content-Length */
        if (clen < 0) {
            while (h_fill(h) == 0)
                ;
            clen = (long)(h->len - hlen);
            close_after = 1;
        }
        while (h->len < hlen + (size_t)clen)
            if (h_fill(h) != 0) {
                h_close(h);
                return -1;
            }
        if (body && bodycap) {
            size_t n = (size_t)clen < bodycap - 1 ? (size_t)clen : bodycap - 1;
            memcpy(body, h->buf + hlen, n);
            body[n] = '\0';
        }
        h->len = 0;
        if (close_after)
            h_close(h);
        return status;
    }
    return -1;
}

/* ---- unique, valid registrations --------------------------------------- */

static const int provinces[] = {
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53,
    61, 62, 63, 64, 65, 71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96};

typedef struct regen {
    int province, regency, district;
    int base_day; /* days after 1950-01-01 */
    unsigned run;
    _Atomic int64_t next;
} regen_t;

static void
regen_init(regen_t *g) {
    uint64_t r = bench_rand64();
    g->province = provinces[r % (sizeof provinces / sizeof provinces[0])];
    r /= 64;
    g->regency = 1 + (int)(r % 99);
    r /= 128;
    g->district = 1 + (int)(r % 99);
    r /= 128;
    g->base_day = (int)(r % 9000);
    r /= 16384;
    g->run = (unsigned)(r & 0xffffff);
    atomic_store(&g->next, 0);
}

static int
is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static void
day_to_date(int days, int *y, int *m, int *d) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int yy = 1950;
    while (days >= (is_leap(yy) ? 366 : 365)) {
        days -= is_leap(yy) ? 366 : 365;
        yy++;
    }
    int mm = 0;
    for (;;) {
        int md = mdays[mm] + (mm == 1 && is_leap(yy));
        if (days < md)
            break;
        days -= md;
        mm++;
    }
    *y = yy;
    *m = mm + 1;
    *d = days + 1;
}

/* Writes the JSON body of the next registration; returns its index. The NIK
 * is unique within the run (serial 0001-9999, then the next birth date) and
 * across runs with high probability (random region and start date). */
static int64_t
regen_next(regen_t *g, char *out, size_t cap) {
    int64_t i = atomic_fetch_add(&g->next, 1);
    int serial = (int)(i % 9999) + 1;
    int y, m, d;
    day_to_date(g->base_day + (int)(i / 9999), &y, &m, &d);
    char nik[40];
    snprintf(nik, sizeof nik, "%02d%02d%02d%02d%02d%02d%04d", g->province,
             g->regency, g->district, d, m, y % 100, serial);
    snprintf(out, cap,
             "{\"scale\":\"UMK\",\"actor_type\":\"02\",\"nik\":\"%s\","
             "\"name\":\"Bench Pengguna\",\"birth_date\":\"%04d-%02d-%02d\","
             "\"email\":\"bench.%06x.%lld@example.com\","
             "\"phone\":\"+628%02u%08lld\",\"country\":\"ID\","
             "\"terms_version\":\"2025-06\"}",
             nik, y, m, d, g->run, (long long)i, g->run % 100,
             (long long)(i % 100000000));
    return i;
}

/* Finds the account id in a 201 body: "account_id", else "id". */
static int
account_id_of(const char *body, char *out, size_t cap) {
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    if (!j)
        return -1;
    const char *keys[] = {"account_id", "id", "stream_id"};
    int rc = -1;
    for (size_t k = 0; k < 3 && rc; k++) {
        json_t *v = json_object_get(j, keys[k]);
        if (!v) {
            json_t *a = json_object_get(j, "account");
            v = a ? json_object_get(a, keys[k]) : NULL;
        }
        if (json_is_string(v) && strlen(json_string_value(v)) < cap) {
            snprintf(out, cap, "%s", json_string_value(v));
            rc = 0;
        }
    }
    json_decref(j);
    return rc;
}

/* ---- api: registrations per second ------------------------------------ */

typedef struct api_ctx {
    regen_t gen;
    const char *url;
    const char *path;
    _Atomic int64_t st4xx, st5xx, neterr;
    char first_bad[256];
    _Atomic int bad_noted;
} api_ctx_t;

typedef struct api_state {
    api_ctx_t *ctx;
    hconn_t h;
    char body[8192];
} api_state_t;

static void *
api_init(void *ctx, int idx) {
    (void)idx;
    api_ctx_t *a = ctx;
    api_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = a;
    if (h_init(&s->h, a->url) != 0 || h_connect(&s->h) != 0) {
        h_free(&s->h);
        free(s);
        return NULL;
    }
    return s;
}

static void
note_bad(api_ctx_t *a, int status, const char *body) {
    if (status >= 500 || status < 0)
        atomic_fetch_add(status < 0 ? &a->neterr : &a->st5xx, 1);
    else
        atomic_fetch_add(&a->st4xx, 1);
    int zero = 0;
    if (atomic_compare_exchange_strong(&a->bad_noted, &zero, 1))
        snprintf(a->first_bad, sizeof a->first_bad, "%d %.200s", status,
                 body ? body : "");
}

static int
api_op(void *st) {
    api_state_t *s = st;
    char req[1024];
    regen_next(&s->ctx->gen, req, sizeof req);
    int status = h_request(&s->h, "POST", s->ctx->path, "application/json", req,
                           s->body, sizeof s->body);
    if (status == 201 || status == 200)
        return 0;
    note_bad(s->ctx, status, s->body);
    return -1;
}

static void
api_fini(void *st) {
    api_state_t *s = st;
    h_free(&s->h);
    free(s);
}

int
bench_cmd_api(int argc, char **argv) {
    int clients = atoi(bench_opt(argc, argv, "--clients", "1"));
    double seconds = atof(bench_opt(argc, argv, "--seconds", "5"));
    long count = atol(bench_opt(argc, argv, "--count", "10000000"));
    static api_ctx_t a;
    memset(&a, 0, sizeof a);
    a.url = bench_env("OSS_API_URL");
    a.path = bench_opt(argc, argv, "--path", "/v1/accounts");
    if (clients < 1 || clients > 256 || seconds <= 0 || seconds > 120 ||
        count < 1) {
        fprintf(stderr, "oss-bench api: bad options\n");
        return 2;
    }
    regen_init(&a.gen);
    int64_t ok = 0, failed = 0;
    double el = 0;
    int rc = bench_run_clients(clients, seconds, count, api_init, api_op,
                               api_fini, &a, &ok, &failed, &el);
    if (a.bad_noted)
        fprintf(stderr, "oss-bench api: first failure: %s\n", a.first_bad);
    printf("RESULT op=api clients=%d ok=%lld failed=%lld s4xx=%lld "
           "s5xx=%lld neterr=%lld seconds=%.3f rate=%.1f\n",
           clients, (long long)ok, (long long)failed,
           (long long)atomic_load(&a.st4xx), (long long)atomic_load(&a.st5xx),
           (long long)atomic_load(&a.neterr), el, el > 0 ? (double)ok / el : 0);
    return rc == 0 && ok > 0 ? 0 : 1;
}

/* ---- latency: POST, then poll the read model until it has it ---------- */

/* One waiting sample: its account id, found by the poller (t1 set). */
typedef struct lat_wait {
    char id[64];
    int64_t t1; /* 0 while not found */
    int used;
} lat_wait_t;

typedef struct lat_ctx {
    regen_t gen;
    const char *url, *path, *pg_url;
    int samples, poll_ms;
    int64_t deadline;
    double *lat;
    _Atomic int next, n, lost, rejected;
    /* the samples waiting for their row: ONE poller asks for all of them
     * every poll_ms in one query, so the polling load on PostgreSQL is the
     * same at 1 and at 16 clients (a query per client every 2 ms was 8,000
     * queries/s at 16 clients, competing with what is measured) */
    pthread_mutex_t mu;
    pthread_cond_t found;
    lat_wait_t wait[64];
    _Atomic int quit;
} lat_ctx_t;

static void *
lat_poller(void *arg) {
    lat_ctx_t *c = arg;
    PGconn *pg = PQconnectdb(c->pg_url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "oss-bench latency: could not connect: %s",
                PQerrorMessage(pg));
        PQfinish(pg);
        atomic_store(&c->quit, 1);
        return NULL;
    }
    while (!atomic_load(&c->quit)) {
        char arr[64 * 66 + 8];
        size_t len = 0;
        arr[len++] = '{';
        pthread_mutex_lock(&c->mu);
        for (int k = 0; k < 64; k++)
            if (c->wait[k].used && !c->wait[k].t1)
                len += (size_t)snprintf(arr + len, sizeof arr - len, "%s%s",
                                        len > 1 ? "," : "", c->wait[k].id);
        pthread_mutex_unlock(&c->mu);
        arr[len++] = '}';
        arr[len] = '\0';
        if (len > 2) {
            const char *pv[] = {arr};
            PGresult *r = PQexecParams(pg,
                                       "SELECT account_id FROM "
                                       "rm.accounts WHERE account_id = "
                                       "ANY($1::text[])",
                                       1, NULL, pv, NULL, NULL, 0);
            int64_t now = bench_now_us();
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
                pthread_mutex_lock(&c->mu);
                for (int t = 0; t < PQntuples(r); t++)
                    for (int k = 0; k < 64; k++)
                        if (c->wait[k].used && !c->wait[k].t1 &&
                            strcasecmp(c->wait[k].id, PQgetvalue(r, t, 0)) == 0)
                            c->wait[k].t1 = now;
                pthread_cond_broadcast(&c->found);
                pthread_mutex_unlock(&c->mu);
            }
            PQclear(r);
        }
        if (c->poll_ms)
            bench_sleep_ms(c->poll_ms);
    }
    PQfinish(pg);
    return NULL;
}

/* One sampler (slot k of the waiting set): takes sample slots until none
 * is left, the deadline passed or the API keeps refusing. Samples are
 * independent: each POSTs a new registration and waits for the poller to
 * see its own id. */
typedef struct lat_arg {
    lat_ctx_t *c;
    int k;
} lat_arg_t;

static void *
lat_main(void *arg) {
    lat_ctx_t *c = ((lat_arg_t *)arg)->c;
    lat_wait_t *w = &c->wait[((lat_arg_t *)arg)->k];
    hconn_t post;
    char req[1024], body[8192], id[256];
    if (h_init(&post, c->url))
        return NULL;
    while (bench_now_us() < c->deadline && !atomic_load(&c->quit) &&
           atomic_fetch_add(&c->next, 1) < c->samples) {
        regen_next(&c->gen, req, sizeof req);
        int64_t t0 = bench_now_us();
        int st = h_request(&post, "POST", c->path, "application/json", req,
                           body, sizeof body);
        if ((st != 201 && st != 200) || account_id_of(body, id, sizeof id) ||
            strlen(id) >= sizeof w->id) {
            if (atomic_fetch_add(&c->rejected, 1) == 0)
                fprintf(stderr, "oss-bench latency: POST answered %d %.200s\n",
                        st, body);
            if (atomic_load(&c->rejected) > 3)
                break;
            continue;
        }
        pthread_mutex_lock(&c->mu);
        snprintf(w->id, sizeof w->id, "%s", id);
        w->t1 = 0;
        w->used = 1;
        /* 5 s from the POST, on the clock pthread_cond_timedwait uses */
        int64_t left_us = t0 + 5000000 - bench_now_us();
        struct timeval tv;
        gettimeofday(&tv, NULL);
        int64_t abs_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec +
                         (left_us > 0 ? left_us : 0);
        struct timespec until = {.tv_sec = (time_t)(abs_us / 1000000),
                                 .tv_nsec = (long)(abs_us % 1000000) * 1000};
        while (!w->t1 && pthread_cond_timedwait(&c->found, &c->mu, &until) == 0)
            ;
        int64_t t1 = w->t1;
        w->used = 0;
        pthread_mutex_unlock(&c->mu);
        if (!t1) {
            atomic_fetch_add(&c->lost, 1);
            continue;
        }
        int slot = atomic_fetch_add(&c->n, 1);
        if (slot < c->samples)
            c->lat[slot] = (double)(t1 - t0) / 1000.0;
    }
    h_free(&post);
    return NULL;
}

int
bench_cmd_latency(int argc, char **argv) {
    static lat_ctx_t c;
    memset(&c, 0, sizeof c);
    c.samples = atoi(bench_opt(argc, argv, "--samples", "200"));
    double timeout = atof(bench_opt(argc, argv, "--timeout", "60"));
    c.poll_ms = atoi(bench_opt(argc, argv, "--poll-ms", "2"));
    int parallel = atoi(bench_opt(argc, argv, "--parallel", "4"));
    c.path = bench_opt(argc, argv, "--path", "/v1/accounts");
    c.url = bench_env("OSS_API_URL");
    c.pg_url = bench_env("OSS_PG_URL");
    if (c.samples < 1 || c.samples > 100000 || timeout <= 0 || timeout > 600 ||
        c.poll_ms < 0 || c.poll_ms > 1000 || parallel < 1 || parallel > 64) {
        fprintf(stderr, "oss-bench latency: bad options\n");
        return 2;
    }
    hconn_t probe;
    if (h_init(&probe, c.url)) {
        fprintf(stderr, "oss-bench latency: bad OSS_API_URL\n");
        return 2;
    }
    h_free(&probe);
    regen_init(&c.gen);
    c.lat = calloc((size_t)c.samples, sizeof *c.lat);
    c.deadline = bench_now_us() + (int64_t)(timeout * 1e6);
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.found, NULL);
    pthread_t th[64], poller;
    lat_arg_t args[64];
    int started = 0;
    if (pthread_create(&poller, NULL, lat_poller, &c) != 0) {
        fprintf(stderr, "oss-bench latency: could not start the poller\n");
        return 1;
    }
    for (int i = 0; i < parallel; i++) {
        args[started].c = &c;
        args[started].k = started;
        if (pthread_create(&th[started], NULL, lat_main, &args[started]) == 0)
            started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    atomic_store(&c.quit, 1);
    pthread_join(poller, NULL);
    int n = atomic_load(&c.n);
    if (n > c.samples)
        n = c.samples;
    double p50 = bench_quantile(c.lat, (size_t)n, 0.50);
    double p99 = bench_quantile(c.lat, (size_t)n, 0.99);
    printf("RESULT op=latency samples=%d lost=%d rejected=%d p50_ms=%.3f "
           "p99_ms=%.3f poll_ms=%d parallel=%d\n",
           n, (int)atomic_load(&c.lost), (int)atomic_load(&c.rejected), p50,
           p99, c.poll_ms, started);
    free(c.lat);
    return n > 0 ? 0 : 1;
}

/* ---- signup: register, activate, set the password, end to end ---------- */

typedef struct su_ctx {
    regen_t gen;
    const char *url, *pg_url;
    bench_master_t mk;
    _Atomic int64_t fail_register, fail_otp, fail_activate, fail_password;
    char first_bad[256];
    _Atomic int bad_noted;
} su_ctx_t;

typedef struct su_state {
    su_ctx_t *ctx;
    hconn_t h;
    PGconn *pg;
    char body[8192];
} su_state_t;

static void *
su_init(void *ctx, int idx) {
    (void)idx;
    su_ctx_t *c = ctx;
    su_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = c;
    s->pg = PQconnectdb(c->pg_url);
    if (PQstatus(s->pg) != CONNECTION_OK || h_init(&s->h, c->url) != 0 ||
        h_connect(&s->h) != 0) {
        fprintf(stderr, "oss-bench signup: a client could not connect\n");
        PQfinish(s->pg);
        h_free(&s->h);
        free(s);
        return NULL;
    }
    return s;
}

static int
su_bad(su_state_t *s, _Atomic int64_t *counter, const char *step, int status) {
    atomic_fetch_add(counter, 1);
    int zero = 0;
    if (atomic_compare_exchange_strong(&s->ctx->bad_noted, &zero, 1))
        snprintf(s->ctx->first_bad, sizeof s->ctx->first_bad, "%s: %d %.200s",
                 step, status, s->body);
    return -1;
}

static int
su_op(void *st) {
    su_state_t *s = st;
    su_ctx_t *c = s->ctx;
    char req[1024], id[128], path[256], otp[8];
    regen_next(&c->gen, req, sizeof req);
    int status = h_request(&s->h, "POST", "/v1/accounts", "application/json",
                           req, s->body, sizeof s->body);
    if (status != 201 || account_id_of(s->body, id, sizeof id))
        return su_bad(s, &c->fail_register, "register", status);
    /* the delivery row commits with the registration: no waiting */
    if (bench_activation_otp(s->pg, &c->mk, id, otp) != 0) {
        s->body[0] = '\0';
        return su_bad(s, &c->fail_otp, "open delivery", 0);
    }
    snprintf(path, sizeof path, "/v1/accounts/%s/activate", id);
    snprintf(req, sizeof req, "{\"otp\":\"%s\"}", otp);
    status = h_request(&s->h, "POST", path, "application/json", req, s->body,
                       sizeof s->body);
    memset(otp, 0, sizeof otp);
    if (status != 200)
        return su_bad(s, &c->fail_activate, "activate", status);
    snprintf(path, sizeof path, "/v1/accounts/%s/password", id);
    snprintf(req, sizeof req, "{\"password\":\"Bench#Sandi%06x9\"}",
             (unsigned)(bench_rand64() & 0xffffff));
    status = h_request(&s->h, "POST", path, "application/json", req, s->body,
                       sizeof s->body);
    memset(req, 0, sizeof req);
    if (status != 204 && status != 200)
        return su_bad(s, &c->fail_password, "password", status);
    return 0;
}

static void
su_fini(void *st) {
    su_state_t *s = st;
    PQfinish(s->pg);
    h_free(&s->h);
    free(s);
}

int
bench_cmd_signup(int argc, char **argv) {
    static su_ctx_t c;
    int clients = atoi(bench_opt(argc, argv, "--clients", "4"));
    double seconds = atof(bench_opt(argc, argv, "--seconds", "10"));
    memset(&c, 0, sizeof c);
    c.url = bench_env("OSS_API_URL");
    c.pg_url = bench_env("OSS_PG_URL");
    if (clients < 1 || clients > 256 || seconds <= 0 || seconds > 120) {
        fprintf(stderr, "oss-bench signup: bad options\n");
        return 2;
    }
    if (bench_master_keys(&c.mk) != 0)
        return 1;
    regen_init(&c.gen);
    int64_t ok = 0, failed = 0;
    double el = 0;
    int rc = bench_run_clients(clients, seconds, 1000000, su_init, su_op,
                               su_fini, &c, &ok, &failed, &el);
    memset(&c.mk, 0, sizeof c.mk);
    if (c.bad_noted)
        fprintf(stderr, "oss-bench signup: first failure: %s\n", c.first_bad);
    printf("RESULT op=signup clients=%d ok=%lld failed=%lld "
           "fail_register=%lld fail_otp=%lld fail_activate=%lld "
           "fail_password=%lld seconds=%.3f rate=%.2f\n",
           clients, (long long)ok, (long long)failed,
           (long long)atomic_load(&c.fail_register),
           (long long)atomic_load(&c.fail_otp),
           (long long)atomic_load(&c.fail_activate),
           (long long)atomic_load(&c.fail_password), el,
           el > 0 ? (double)ok / el : 0);
    return rc == 0 && ok > 0 ? 0 : 1;
}
