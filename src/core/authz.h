/* Roles, scopes and the authorization decision, pure: who may do what to
 * which account. The shell (producers/api/auth.c) loads the caller's grants
 * synchronously from oss.grants (written in the same transaction as the
 * events that give or take them, never from a read model) and asks
 * oss_authz_check() before every action. The documented matrix is
 * producers/api/README.md "Authorization"; tests/unit/test_core_authz.c and
 * tests/e2e/test_authz_matrix.sh check it. libc only; thread-safe. */
#ifndef OSS_CORE_AUTHZ_H
#define OSS_CORE_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

typedef enum oss_role {
    OSS_ROLE_NONE = 0,
    OSS_ROLE_OWNER,        /* the business's responsible person */
    OSS_ROLE_PREPARER,     /* delegate: prepares applications */
    OSS_ROLE_VIEWER,       /* delegate: reads */
    OSS_ROLE_OFFICER,      /* government: scoped by sector and/or region */
    OSS_ROLE_ACCESS_ADMIN, /* government: manages one institution's officers */
    OSS_ROLE_OPERATOR,     /* OSS authority operations (helpdesk) */
    OSS_ROLE_AUDITOR       /* reads histories and personal data, logged */
} oss_role_t;

/* "owner", "preparer", ... ; "" for NONE. */
const char *oss_role_name(oss_role_t r);
/* OSS_ROLE_NONE when unknown. */
oss_role_t oss_role_parse(const char *s);

#define OSS_AUTHZ_ID_MAX 65
#define OSS_AUTHZ_MAX_GRANTS 16

/* One active grant (a row of oss.grants). */
typedef struct oss_grant {
    oss_role_t role;
    char account_id[OSS_AUTHZ_ID_MAX]; /* business roles */
    char institution[16];              /* government roles: "oss" (the
                                          OSS authority), a sector code
                                          "090", a 10-digit region code or
                                          "kek-<code>" */
    char sector[4];                    /* officer scope; "" = any */
    char region[11];                   /* officer scope (10 digits, trailing
                                          zeros = the whole province or
                                          regency); "" = any */
} oss_grant_t;

/* The authenticated caller. */
typedef struct oss_principal {
    char principal_id[OSS_AUTHZ_ID_MAX];
    oss_grant_t grants[OSS_AUTHZ_MAX_GRANTS];
    size_t ngrants;
} oss_principal_t;

typedef enum oss_action {
    OSS_ACT_ACCOUNT_READ = 0, /* status, history, members list */
    OSS_ACT_PERSONAL_READ,    /* decrypt a subject's personal data */
    OSS_ACT_MEMBERS_MANAGE,   /* add / remove delegates */
    OSS_ACT_TRANSFER,         /* offer ownership to another person */
    OSS_ACT_HANDOVER_FILE,    /* file a written hand-over request */
    OSS_ACT_HANDOVER_OBJECT,  /* object to a filed request */
    OSS_ACT_HANDOVER_DECIDE,  /* approve / reject a request */
    OSS_ACT_TERMINATE,        /* end access with a reason code */
    OSS_ACT_OFFICERS_MANAGE,  /* create / revoke officers of an institution */
    OSS_ACT_HELP_DECIDE,      /* decide a help request (e-mail change) */
    OSS_ACT_SUBJECT_ERASE,    /* crypto-shred a subject */
    OSS_ACT_AUDIT_READ,       /* read any stream's history, verify */
    OSS_ACT_RESTRICT,         /* restrict (suspend) an account, lift it */
    OSS_ACT_COUNT
} oss_action_t;

/* What the action is about (borrowed strings; NULL or "" = not relevant). */
typedef struct oss_target {
    const char *account_id;
    const char *region; /* the account's domicile region (10 digits) */
    const char *sector;
    const char *institution; /* OFFICERS_MANAGE */
    /* the account's access is restricted by the OSS authority: its own
     * business users may do nothing on it (why "account_restricted") */
    bool restricted;
} oss_target_t;

typedef enum oss_authz {
    OSS_AUTHZ_ALLOW = 0,
    OSS_AUTHZ_FORBIDDEN, /* 403: known role, not allowed / out of scope */
    OSS_AUTHZ_HIDDEN     /* 404: a business user asking about another
                            business's account (its existence is not
                            disclosed) */
} oss_authz_t;

/* The decision for p (borrowed) doing a to t (borrowed). When not allowed,
 * *why (may be NULL) names the reason ("not_a_member", "role",
 * "out_of_scope", ...). */
oss_authz_t oss_authz_check(const oss_principal_t *p, oss_action_t a,
                            const oss_target_t *t, const char **why);

/* True when an officer's region scope (10 digits, trailing "00" pairs as
 * wildcards: 3200000000 = province 32, 3201000000 = regency 32.01) covers
 * region. An empty scope covers everything. */
bool oss_authz_region_covers(const char *scope, const char *region);

/* "account.read", ... for logs and the matrix test. */
const char *oss_action_name(oss_action_t a);

#endif
