/* Roles, scopes and the authorization matrix (pure): see core/authz.h. */
#include "core/authz.h"

#include <string.h>

static const char *const role_names[] = {
    [OSS_ROLE_NONE] = "",
    [OSS_ROLE_OWNER] = "owner",
    [OSS_ROLE_PREPARER] = "preparer",
    [OSS_ROLE_VIEWER] = "viewer",
    [OSS_ROLE_OFFICER] = "officer",
    [OSS_ROLE_ACCESS_ADMIN] = "access_admin",
    [OSS_ROLE_OPERATOR] = "operator",
    [OSS_ROLE_AUDITOR] = "auditor",
};

static const char *const action_names[OSS_ACT_COUNT] = {
    [OSS_ACT_ACCOUNT_READ] = "account.read",
    [OSS_ACT_PERSONAL_READ] = "personal.read",
    [OSS_ACT_MEMBERS_MANAGE] = "members.manage",
    [OSS_ACT_TRANSFER] = "transfer",
    [OSS_ACT_HANDOVER_FILE] = "handover.file",
    [OSS_ACT_HANDOVER_OBJECT] = "handover.object",
    [OSS_ACT_HANDOVER_DECIDE] = "handover.decide",
    [OSS_ACT_TERMINATE] = "terminate",
    [OSS_ACT_OFFICERS_MANAGE] = "officers.manage",
    [OSS_ACT_HELP_DECIDE] = "help.decide",
    [OSS_ACT_SUBJECT_ERASE] = "subject.erase",
    [OSS_ACT_AUDIT_READ] = "audit.read",
    [OSS_ACT_RESTRICT] = "restrict",
};

const char *
oss_role_name(oss_role_t r) {
    if ((int)r < 0 || (size_t)r >= sizeof role_names / sizeof *role_names)
        return "";
    return role_names[r];
}

oss_role_t
oss_role_parse(const char *s) {
    if (!s || !*s)
        return OSS_ROLE_NONE;
    for (size_t i = 1; i < sizeof role_names / sizeof *role_names; i++)
        if (!strcmp(role_names[i], s))
            return (oss_role_t)i;
    return OSS_ROLE_NONE;
}

const char *
oss_action_name(oss_action_t a) {
    if ((int)a < 0 || a >= OSS_ACT_COUNT)
        return "";
    return action_names[a];
}

static bool
empty(const char *s) {
    return !s || !*s;
}

static bool
ten_digits(const char *s) {
    if (!s || strlen(s) != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool
oss_authz_region_covers(const char *scope, const char *region) {
    if (empty(scope))
        return true;
    if (!ten_digits(scope) || !ten_digits(region))
        return false;
    size_t n = 10;
    while (n >= 2 && scope[n - 1] == '0' && scope[n - 2] == '0')
        n -= 2;
    return strncmp(scope, region, n) == 0;
}

static bool
is_government(oss_role_t r) {
    return r == OSS_ROLE_OFFICER || r == OSS_ROLE_ACCESS_ADMIN ||
           r == OSS_ROLE_OPERATOR || r == OSS_ROLE_AUDITOR;
}

static bool
is_national(const oss_grant_t *g) {
    return !strcmp(g->institution, "oss");
}

/* The officer's region scope: its own, else a region institution's code. */
static const char *
officer_region(const oss_grant_t *g) {
    if (g->region[0])
        return g->region;
    if (ten_digits(g->institution))
        return g->institution;
    return "";
}

/* An officer's sector/region scope covers the target. An officer of the
 * OSS authority ("oss") with no narrower scope is national; any other
 * officer needs a sector or region scope that matches. */
static bool
officer_covers(const oss_grant_t *g, const oss_target_t *t) {
    const char *reg = officer_region(g);
    bool sector_ok =
        !g->sector[0] || (!empty(t->sector) && !strcmp(g->sector, t->sector));
    bool region_ok = !reg[0] || oss_authz_region_covers(reg, t->region);
    if (!sector_ok || !region_ok)
        return false;
    return is_national(g) || g->sector[0] || reg[0];
}

/* Officers who may decide a hand-over: the OSS authority's, or one whose
 * region scope covers the account's domicile. */
static bool
officer_decides(const oss_grant_t *g, const oss_target_t *t) {
    const char *reg = officer_region(g);
    if (is_national(g))
        return true;
    return reg[0] && oss_authz_region_covers(reg, t->region);
}

/* Whether grant g alone allows a on t. */
static bool
grant_allows(const oss_grant_t *g, oss_action_t a, const oss_target_t *t) {
    bool member = !empty(t->account_id) && g->account_id[0] &&
                  !strcmp(g->account_id, t->account_id);

    if (member && t->restricted)
        return false; /* suspended: the authority alone acts on it */
    switch (a) {
    case OSS_ACT_ACCOUNT_READ:
        return (member &&
                (g->role == OSS_ROLE_OWNER || g->role == OSS_ROLE_PREPARER ||
                 g->role == OSS_ROLE_VIEWER)) ||
               (g->role == OSS_ROLE_OFFICER && officer_covers(g, t)) ||
               g->role == OSS_ROLE_OPERATOR || g->role == OSS_ROLE_AUDITOR;
    case OSS_ACT_PERSONAL_READ:
        return (member && g->role == OSS_ROLE_OWNER) ||
               (g->role == OSS_ROLE_OFFICER && officer_covers(g, t)) ||
               g->role == OSS_ROLE_OPERATOR || g->role == OSS_ROLE_AUDITOR;
    case OSS_ACT_MEMBERS_MANAGE:
    case OSS_ACT_TRANSFER:
    case OSS_ACT_HANDOVER_OBJECT:
        return member && g->role == OSS_ROLE_OWNER;
    case OSS_ACT_HANDOVER_FILE:
        return (member &&
                (g->role == OSS_ROLE_OWNER || g->role == OSS_ROLE_PREPARER ||
                 g->role == OSS_ROLE_VIEWER)) ||
               g->role == OSS_ROLE_OPERATOR;
    case OSS_ACT_HANDOVER_DECIDE:
        return g->role == OSS_ROLE_OFFICER && officer_decides(g, t);
    case OSS_ACT_TERMINATE:
    case OSS_ACT_RESTRICT: /* the OSS authority, as for termination */
        return g->role == OSS_ROLE_OPERATOR ||
               (g->role == OSS_ROLE_OFFICER && is_national(g));
    case OSS_ACT_OFFICERS_MANAGE:
        return g->role == OSS_ROLE_ACCESS_ADMIN && !empty(t->institution) &&
               !strcmp(g->institution, t->institution);
    case OSS_ACT_HELP_DECIDE:
    case OSS_ACT_SUBJECT_ERASE:
        return g->role == OSS_ROLE_OPERATOR;
    case OSS_ACT_AUDIT_READ:
        return g->role == OSS_ROLE_AUDITOR || g->role == OSS_ROLE_OPERATOR;
    case OSS_ACT_COUNT:
        break;
    }
    return false;
}

oss_authz_t
oss_authz_check(const oss_principal_t *p, oss_action_t a, const oss_target_t *t,
                const char **why) {
    static const oss_target_t none = {0};
    bool gov = false, member = false, officer = false, admin = false;
    const char *dummy;

    if (!why)
        why = &dummy;
    if (!t)
        t = &none;
    *why = "";
    if (!p || (int)a < 0 || a >= OSS_ACT_COUNT) {
        *why = "unknown";
        return OSS_AUTHZ_FORBIDDEN;
    }
    size_t n =
        p->ngrants < OSS_AUTHZ_MAX_GRANTS ? p->ngrants : OSS_AUTHZ_MAX_GRANTS;
    for (size_t i = 0; i < n; i++) {
        const oss_grant_t *g = &p->grants[i];
        if (g->role == OSS_ROLE_NONE)
            continue;
        if (grant_allows(g, a, t))
            return OSS_AUTHZ_ALLOW;
        if (is_government(g->role))
            gov = true;
        if (g->role == OSS_ROLE_OFFICER)
            officer = true;
        if (g->role == OSS_ROLE_ACCESS_ADMIN)
            admin = true;
        if (!empty(t->account_id) && g->account_id[0] &&
            !strcmp(g->account_id, t->account_id))
            member = true;
    }
    /* a business user (or a principal whose grants are gone) asking about
     * another business's account: its existence is not disclosed */
    if (!empty(t->account_id) && !gov && !member) {
        *why = "not_a_member";
        return OSS_AUTHZ_HIDDEN;
    }
    if (member && t->restricted && !gov)
        *why = "account_restricted";
    else if (officer && !empty(t->account_id) &&
             (a == OSS_ACT_ACCOUNT_READ || a == OSS_ACT_PERSONAL_READ ||
              a == OSS_ACT_HANDOVER_DECIDE))
        *why = "out_of_scope";
    else if (a == OSS_ACT_OFFICERS_MANAGE && admin)
        *why = "other_institution";
    else
        *why = "role";
    return OSS_AUTHZ_FORBIDDEN;
}
