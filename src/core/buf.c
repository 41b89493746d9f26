/* The growable buffer (see buf.h). */
#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 256

/* Zeroes p[0..n) in a way the compiler may not drop (volatile stores). */
static void
wipe(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void
oss_buf_init(oss_buf_t *b) {
    memset(b, 0, sizeof *b);
}

void
oss_buf_init_secret(oss_buf_t *b) {
    memset(b, 0, sizeof *b);
    b->secret = true;
}

static oss_code_t
fail(oss_buf_t *b) {
    b->failed = true;
    return OSS_ENOMEM;
}

oss_code_t
oss_buf_reserve(oss_buf_t *b, size_t more) {
    if (b->failed)
        return OSS_ENOMEM;
    if (more > SIZE_MAX - 1 - b->len)
        return fail(b);
    size_t need = b->len + more + 1;
    if (b->p && need <= b->cap)
        return OSS_OK;
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p;
    if (b->secret) {
        if (!(p = malloc(cap)))
            return fail(b);
        if (b->p) {
            memcpy(p, b->p, b->len + 1);
            wipe(b->p, b->cap);
            free(b->p);
        }
    } else if (!(p = realloc(b->p, cap))) {
        return fail(b);
    }
    if (!b->p)
        p[0] = '\0';
    b->p = p;
    b->cap = cap;
    return OSS_OK;
}

oss_code_t
oss_buf_append(oss_buf_t *b, const void *data, size_t n) {
    if (oss_buf_reserve(b, n) != OSS_OK)
        return OSS_ENOMEM;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return OSS_OK;
}

oss_code_t
oss_buf_appends(oss_buf_t *b, const char *s) {
    return oss_buf_append(b, s, strlen(s));
}

oss_code_t
oss_buf_appendc(oss_buf_t *b, char c) {
    return oss_buf_append(b, &c, 1);
}

oss_code_t
oss_buf_vappendf(oss_buf_t *b, const char *fmt, va_list ap) {
    if (b->failed)
        return OSS_ENOMEM;
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->p ? b->cap - b->len : 0;
    int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        if (b->p)
            b->p[b->len] = '\0';
        b->failed = true;
        return OSS_EINVAL;
    }
    if ((size_t)n >= room) {
        /* did not fit: grow to the exact size, then format again */
        if (oss_buf_reserve(b, (size_t)n) != OSS_OK) {
            va_end(ap2);
            if (b->p)
                b->p[b->len] = '\0';
            return OSS_ENOMEM;
        }
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
    return OSS_OK;
}

oss_code_t
oss_buf_appendf(oss_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    oss_code_t rc = oss_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void
oss_buf_reset(oss_buf_t *b) {
    if (b->p) {
        if (b->secret)
            wipe(b->p, b->cap);
        b->p[0] = '\0';
    }
    b->len = 0;
    b->failed = false;
}

void
oss_buf_free(oss_buf_t *b) {
    bool secret = b->secret;
    if (b->p) {
        if (secret)
            wipe(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
    b->secret = secret;
}

char *
oss_buf_detach(oss_buf_t *b, size_t *len) {
    char *s = NULL;
    if (len)
        *len = 0;
    if (b->failed) {
        oss_buf_free(b);
        return NULL;
    }
    if (!b->p && oss_buf_reserve(b, 0) != OSS_OK) {
        oss_buf_free(b);
        return NULL;
    }
    s = b->p;
    if (len)
        *len = b->len;
    bool secret = b->secret;
    memset(b, 0, sizeof *b);
    b->secret = secret;
    return s;
}
