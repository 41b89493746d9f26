/* Internals shared by the journal's files: the handle (conn.c: connection,
 * reconnects, prepared-statement slots) used by journal.c (load, verify)
 * and execute.c (the group-commit write path). Rows are decoded by row.h.
 * Not a public interface. */
#ifndef OSS_JOURNAL_INT_H
#define OSS_JOURNAL_INT_H

#include "db/db.h"
#include "journal/journal.h"

/* A statement the write path prepared on this connection (execute.c): the
 * server parses and plans it once per connection, not once per batch. */
#define JOURNAL_PS_MAX 64
typedef struct journal_ps {
    char *sql;   /* owned; NULL = free slot */
    int ready;   /* 1: the server confirmed the prepare */
    unsigned id; /* name "oss_journal_<id>" (never reused) */
} journal_ps_t;

struct oss_journal {
    PGconn *conn;   /* NULL after a lost connection until reconnected */
    char *conninfo; /* owned copy, for reconnecting */
    journal_ps_t ps[JOURNAL_PS_MAX];
    unsigned ps_next;
    int no_key_lock; /* oss_journal_set_key_lock(j, false) */
};

/* Forgets the prepared statements (the connection is new or gone).
 * (conn.c) */
void journal_ps_clear(oss_journal_t *j);

/* Makes sure j->conn is connected, reconnecting when it broke (a caller's
 * open transaction on a good connection is left alone). OSS_EUNAVAIL while
 * PostgreSQL is down. */
oss_code_t journal_ensure(oss_journal_t *j, oss_err_t *err);
/* Drops the connection and connects again. */
oss_code_t journal_reconnect(oss_journal_t *j, oss_err_t *err);

#endif
