/* Token-bucket rate limits per (class, client IP) and per (class, key) for
 * the API's sensitive entry points; see ratelimit.h. One mutex guards a
 * fixed pool of buckets in a chained hash table with an LRU list: lookups
 * and evictions are O(1), memory never grows after api_rl_new(). */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"
#include "log/log.h"

#define NIL UINT32_MAX
#define DG_LEN 16

static const char *const class_names[API_RL_CLASS_COUNT] = {
    "register", "signin", "otp", "resend", "recovery"};

const char *
api_rl_class_name(api_rl_class_t c) {
    return (unsigned)c < API_RL_CLASS_COUNT ? class_names[c] : "";
}

typedef struct rl_node {
    uint8_t dg[DG_LEN]; /* keyed digest of (class, scope, value) */
    double tokens;
    int64_t last_us;
    uint32_t hnext;      /* next in the hash chain */
    uint32_t prev, next; /* LRU list: prev = more recent */
} rl_node_t;

struct api_rl {
    pthread_mutex_t mu;
    api_rl_limit_t lim[API_RL_CLASS_COUNT];
    uint8_t salt[32];
    rl_node_t *nodes;
    uint32_t cap, used;
    uint32_t *heads;
    uint32_t mask;     /* heads has mask + 1 slots (a power of two) */
    uint32_t mru, lru; /* list ends */
    char **exempt;
    size_t nexempt;
};

/* ---- the pure limiter --------------------------------------------------- */

static void
free_exempt(api_rl_t *rl) {
    for (size_t i = 0; i < rl->nexempt; i++)
        free(rl->exempt[i]);
    free(rl->exempt);
    rl->exempt = NULL;
    rl->nexempt = 0;
}

/* Splits the comma-separated list into rl->exempt. False on OOM. */
static bool
parse_exempt(api_rl_t *rl, const char *list) {
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n) {
            char **v = realloc(rl->exempt, (rl->nexempt + 1) * sizeof *v);
            if (!v)
                return false;
            rl->exempt = v;
            if (!(v[rl->nexempt] = strndup(p, n)))
                return false;
            rl->nexempt++;
        }
        p = e ? e + 1 : NULL;
    }
    return true;
}

api_rl_t *
api_rl_new(const api_rl_limit_t *limits, size_t max_entries,
           const char *exempt_ips) {
    api_rl_t *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    if (max_entries < 2)
        max_entries = 2; /* an IP and a key bucket at once */
    if (max_entries > 0x7fffffffu)
        max_entries = 0x7fffffffu;
    rl->cap = (uint32_t)max_entries;
    uint32_t slots = 1;
    while (slots < rl->cap && slots < 0x40000000u)
        slots <<= 1;
    rl->mask = slots - 1;
    rl->nodes = calloc(rl->cap, sizeof *rl->nodes);
    rl->heads = malloc((size_t)slots * sizeof *rl->heads);
    if (!rl->nodes || !rl->heads || !parse_exempt(rl, exempt_ips))
        goto fail;
    for (uint32_t i = 0; i < slots; i++)
        rl->heads[i] = NIL;
    rl->mru = rl->lru = NIL;
    for (int c = 0; c < API_RL_CLASS_COUNT; c++) {
        rl->lim[c] = limits[c];
        if (rl->lim[c].window_s < 1)
            rl->lim[c].window_s = 1;
    }
    if (RAND_bytes(rl->salt, sizeof rl->salt) != 1)
        goto fail;
    if (pthread_mutex_init(&rl->mu, NULL) != 0)
        goto fail;
    return rl;
fail:
    free_exempt(rl);
    free(rl->nodes);
    free(rl->heads);
    free(rl);
    return NULL;
}

void
api_rl_free(api_rl_t *rl) {
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free_exempt(rl);
    free(rl->nodes);
    free(rl->heads);
    explicit_bzero(rl->salt, sizeof rl->salt);
    free(rl);
}

size_t
api_rl_size(api_rl_t *rl) {
    pthread_mutex_lock(&rl->mu);
    size_t n = rl->used;
    pthread_mutex_unlock(&rl->mu);
    return n;
}

/* HMAC-SHA256(salt, class | scope | value), truncated. */
static void
digest(const api_rl_t *rl, api_rl_class_t cls, char scope, const char *v,
       uint8_t out[DG_LEN]) {
    uint8_t full[32];
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%d|%c|%s", (int)cls, scope, v);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1; /* keys are short; a longer one truncates */
    oss_hmac_sha256(rl->salt, sizeof rl->salt, buf, (size_t)n, full);
    memcpy(out, full, DG_LEN);
    explicit_bzero(full, sizeof full);
    explicit_bzero(buf, sizeof buf);
}

static uint32_t
slot_of(const api_rl_t *rl, const uint8_t dg[DG_LEN]) {
    uint32_t h;
    memcpy(&h, dg, sizeof h);
    return h & rl->mask;
}

static void
lru_unlink(api_rl_t *rl, uint32_t i) {
    rl_node_t *n = &rl->nodes[i];
    if (n->prev != NIL)
        rl->nodes[n->prev].next = n->next;
    else
        rl->mru = n->next;
    if (n->next != NIL)
        rl->nodes[n->next].prev = n->prev;
    else
        rl->lru = n->prev;
    n->prev = n->next = NIL;
}

static void
lru_push(api_rl_t *rl, uint32_t i) {
    rl_node_t *n = &rl->nodes[i];
    n->prev = NIL;
    n->next = rl->mru;
    if (rl->mru != NIL)
        rl->nodes[rl->mru].prev = i;
    rl->mru = i;
    if (rl->lru == NIL)
        rl->lru = i;
}

/* Removes node i from its hash chain. */
static void
chain_unlink(api_rl_t *rl, uint32_t i) {
    uint32_t *pp = &rl->heads[slot_of(rl, rl->nodes[i].dg)];
    while (*pp != NIL && *pp != i)
        pp = &rl->nodes[*pp].hnext;
    if (*pp == i)
        *pp = rl->nodes[i].hnext;
}

/* The bucket for dg, created full (evicting the least recently used one
 * when the pool is full) and made most recent. */
static rl_node_t *
bucket(api_rl_t *rl, const uint8_t dg[DG_LEN], uint32_t max, int64_t now_us) {
    uint32_t s = slot_of(rl, dg), i;
    for (i = rl->heads[s]; i != NIL; i = rl->nodes[i].hnext)
        if (!memcmp(rl->nodes[i].dg, dg, DG_LEN)) {
            lru_unlink(rl, i);
            lru_push(rl, i);
            return &rl->nodes[i];
        }
    if (rl->used < rl->cap) {
        i = rl->used++;
    } else {
        i = rl->lru;
        lru_unlink(rl, i);
        chain_unlink(rl, i);
    }
    rl_node_t *n = &rl->nodes[i];
    memcpy(n->dg, dg, DG_LEN);
    n->tokens = max;
    n->last_us = now_us;
    n->hnext = rl->heads[s];
    rl->heads[s] = i;
    lru_push(rl, i);
    return n;
}

/* Refills n to now_us at max tokens per window; returns the wait in
 * microseconds until it holds one token (0 = it does). */
static int64_t
refill(rl_node_t *n, uint32_t max, uint32_t window_s, int64_t now_us) {
    double per_us = (double)max / ((double)window_s * 1e6);
    if (now_us > n->last_us) {
        n->tokens += (double)(now_us - n->last_us) * per_us;
        if (n->tokens > max)
            n->tokens = max;
        n->last_us = now_us;
    }
    if (n->tokens >= 1.0)
        return 0;
    return (int64_t)ceil((1.0 - n->tokens) / per_us);
}

static bool
exempt(const api_rl_t *rl, const char *ip) {
    for (size_t i = 0; i < rl->nexempt; i++)
        if (!strcmp(rl->exempt[i], ip))
            return true;
    return false;
}

int64_t
api_rl_take(api_rl_t *rl, api_rl_class_t cls, const char *ip, const char *key,
            int64_t now_us) {
    if ((unsigned)cls >= API_RL_CLASS_COUNT)
        return 0;
    const api_rl_limit_t *lim = &rl->lim[cls];
    bool use_ip = lim->ip_max && ip && *ip && !exempt(rl, ip);
    bool use_key = lim->key_max && key && *key;
    uint8_t dip[DG_LEN], dkey[DG_LEN];
    int64_t wait = 0;

    if (use_ip)
        digest(rl, cls, 'i', ip, dip);
    if (use_key)
        digest(rl, cls, 'k', key, dkey);
    pthread_mutex_lock(&rl->mu);
    rl_node_t *bi = NULL, *bk = NULL;
    if (use_ip) {
        bi = bucket(rl, dip, lim->ip_max, now_us);
        int64_t w = refill(bi, lim->ip_max, lim->window_s, now_us);
        if (w > wait)
            wait = w;
    }
    if (use_key) {
        /* the pool holds at least 2: bucket() cannot evict bi here, since
         * bi is the most recent */
        bk = bucket(rl, dkey, lim->key_max, now_us);
        int64_t w = refill(bk, lim->key_max, lim->window_s, now_us);
        if (w > wait)
            wait = w;
    }
    if (wait == 0) {
        if (bi)
            bi->tokens -= 1.0;
        if (bk)
            bk->tokens -= 1.0;
    }
    pthread_mutex_unlock(&rl->mu);
    return wait;
}

/* ---- the process-wide limiter ------------------------------------------- */

static api_rl_t *g_rl; /* set before serving, freed after */

oss_code_t
api_ratelimit_init(const oss_config_t *cfg, oss_err_t *err) {
    api_rl_limit_t lim[API_RL_CLASS_COUNT];
    char k[96];

    api_ratelimit_shutdown();
    if (!oss_config_bool(cfg, "api.ratelimit.enabled"))
        return OSS_OK;
    for (int c = 0; c < API_RL_CLASS_COUNT; c++) {
        snprintf(k, sizeof k, "api.ratelimit.%s.ip_max", class_names[c]);
        lim[c].ip_max = (uint32_t)oss_config_int(cfg, k);
        snprintf(k, sizeof k, "api.ratelimit.%s.key_max", class_names[c]);
        lim[c].key_max = (uint32_t)oss_config_int(cfg, k);
        snprintf(k, sizeof k, "api.ratelimit.%s.window_s", class_names[c]);
        lim[c].window_s = (uint32_t)oss_config_int(cfg, k);
    }
    g_rl = api_rl_new(lim,
                      (size_t)oss_config_int(cfg, "api.ratelimit.max_entries"),
                      oss_config_str(cfg, "api.ratelimit.exempt_ips"));
    if (!g_rl)
        return oss_err_set(err, OSS_ENOMEM,
                           "could not create the rate limiter: out of memory");
    return OSS_OK;
}

void
api_ratelimit_shutdown(void) {
    api_rl_free(g_rl);
    g_rl = NULL;
}

static int64_t
mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool
api_ratelimit_take(oss_http_req_t *req, api_rl_class_t cls, const char *key) {
    if (!g_rl)
        return true;
    int64_t wait =
        api_rl_take(g_rl, cls, oss_http_req_peer(req), key, mono_us());
    if (wait == 0)
        return true;
    long long s = (wait + 999999) / 1000000;
    if (s < 1)
        s = 1;
    char ra[24], msg[160];
    snprintf(ra, sizeof ra, "%lld", s);
    snprintf(msg, sizeof msg, "too many %s requests; retry in %lld s",
             api_rl_class_name(cls), s);
    oss_info("rate limited class=%s retry_after_s=%lld", api_rl_class_name(cls),
             s);
    const char *hdrs[] = {"Retry-After", ra, NULL};
    oss_http_reply(req, 429, "application/json",
                   oss_http_error_json("rate_limited", msg, NULL), hdrs);
    return false;
}

const char *
api_ratelimit_body_key(const oss_http_req_t *req, const char *const *fields,
                       char *out, size_t outlen) {
    size_t len;
    const char *body = oss_http_req_body(req, &len);
    const char *found = NULL;
    json_t *root;

    if (!body || !len || !outlen)
        return NULL;
    root = json_loadb(body, len, 0, NULL);
    if (!root)
        return NULL;
    for (size_t i = 0; fields[i] && json_is_object(root); i++) {
        json_t *v = json_object_get(root, fields[i]);
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (!s || !*s)
            continue;
        size_t k = 0;
        for (; s[k] && k + 1 < outlen; k++)
            out[k] = (s[k] >= 'A' && s[k] <= 'Z') ? (char)(s[k] + 32) : s[k];
        out[k] = '\0';
        found = out;
        break;
    }
    /* the body's copies of personal data go with the parsed tree */
    json_decref(root);
    return found;
}
