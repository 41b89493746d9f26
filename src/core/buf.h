/* A growable byte/string buffer, free of any handle (in the spirit of curl's
 * curlx dynbuf and Redis' sds): the one such buffer of the tree.
 *
 * Why in the core: the core needs it itself (the canonical event encoding
 * of event.c), the core may include only libc and core/ headers, and the
 * rule is one copy; so it lives here and the shell and programs use it too.
 * Pure: libc only, no global state; a buffer is used by one thread at a time.
 *
 * Invariants: once anything was appended, p is NUL-terminated at p[len] (so
 * a text buffer is a C string; binary data may hold NULs, len counts them).
 * Before the first append p is NULL, len and cap 0. Failures are sticky: after
 * an allocation failure or a size overflow `failed` is set, every later
 * append is a no-op returning OSS_ENOMEM, and the caller may test once at the
 * end (oss_buf_ok()). A secret buffer (oss_buf_init_secret()) never leaves a
 * copy behind: it grows by allocate-copy-wipe instead of realloc, and reset
 * and free wipe what it held.
 *
 * Ownership: the oss_buf_t (usually on the stack) is the caller's; the
 * memory at p is owned by the buffer until oss_buf_free() releases it or
 * oss_buf_detach() hands it to the caller. */
#ifndef OSS_CORE_BUF_H
#define OSS_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct oss_buf {
    char *p;     /* owned; NULL until the first append */
    size_t len;  /* bytes held, not counting the NUL after them */
    size_t cap;  /* bytes allocated at p (>= len + 1 once allocated) */
    bool failed; /* sticky: an allocation failed or a size overflowed */
    bool secret; /* wipe on grow, reset and free; never realloc */
} oss_buf_t;

/* An empty buffer owning nothing (same as `oss_buf_t b = {0};`). */
void oss_buf_init(oss_buf_t *b);
/* An empty buffer for secrets: see the file comment. */
void oss_buf_init_secret(oss_buf_t *b);
/* Makes room for `more` bytes past len (and the NUL after them) without
 * changing the content. OSS_OK, or OSS_ENOMEM (sticky, content kept). */
oss_code_t oss_buf_reserve(oss_buf_t *b, size_t more);
/* Appends data[0..n) (borrowed; n may be 0, data then may be NULL). */
oss_code_t oss_buf_append(oss_buf_t *b, const void *data, size_t n);
/* Appends the C string s (borrowed). */
oss_code_t oss_buf_appends(oss_buf_t *b, const char *s);
/* Appends one byte. */
oss_code_t oss_buf_appendc(oss_buf_t *b, char c);
/* Appends printf-formatted text, whatever its length (never truncates).
 * OSS_EINVAL (sticky) when vsnprintf fails on the format. */
oss_code_t oss_buf_appendf(oss_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same with a va_list (ap is used, as by vsnprintf). */
oss_code_t oss_buf_vappendf(oss_buf_t *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Empties the buffer (len 0, "" once allocated) and clears `failed`,
 * keeping the memory for reuse; a secret buffer is wiped first. */
void oss_buf_reset(oss_buf_t *b);
/* Releases the memory (wiped first when secret); b is empty again. */
void oss_buf_free(oss_buf_t *b);
/* Returns the content as a new NUL-terminated string, caller frees with
 * free() (a secret buffer's content: wipe it before), and empties b (still
 * secret if it was). Returns NULL when
 * the buffer failed (its memory is then released) or when no memory can be
 * had for an empty buffer's "". *len (may be NULL) gets the length. */
char *oss_buf_detach(oss_buf_t *b, size_t *len);

/* True while no append has failed. */
static inline bool
oss_buf_ok(const oss_buf_t *b) {
    return !b->failed;
}
/* The content as a C string: "" before the first append. Borrowed: valid
 * until the next call that changes b. */
static inline const char *
oss_buf_str(const oss_buf_t *b) {
    return b->p ? b->p : "";
}

#endif
