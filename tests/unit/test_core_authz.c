/* Unit tests of the authorization matrix (core/authz.h): every action for
 * every role, in and out of scope, hidden vs forbidden, region wildcards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/authz.h"

#define ACC "0190b2a0-0000-7000-8000-000000000001"
#define OTHER "0190b2a0-0000-7000-8000-000000000002"
#define REGION "3201012001" /* Kab. Bogor, Jawa Barat */

static oss_principal_t
who(oss_role_t role, const char *account, const char *inst, const char *sector,
    const char *region) {
    oss_principal_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.principal_id, sizeof p.principal_id, "p-1");
    p.grants[0].role = role;
    snprintf(p.grants[0].account_id, sizeof p.grants[0].account_id, "%s",
             account ? account : "");
    snprintf(p.grants[0].institution, sizeof p.grants[0].institution, "%s",
             inst ? inst : "");
    snprintf(p.grants[0].sector, sizeof p.grants[0].sector, "%s",
             sector ? sector : "");
    snprintf(p.grants[0].region, sizeof p.grants[0].region, "%s",
             region ? region : "");
    p.ngrants = role == OSS_ROLE_NONE ? 0 : 1;
    return p;
}

static oss_authz_t
check(const oss_principal_t *p, oss_action_t a, const char *account,
      const char *region, const char *inst) {
    oss_target_t t = {
        .account_id = account, .region = region, .institution = inst};
    const char *why = NULL;
    oss_authz_t r = oss_authz_check(p, a, &t, &why);
    assert_non_null(why);
    if (r == OSS_AUTHZ_ALLOW)
        assert_string_equal(why, "");
    else
        assert_true(why[0] != '\0');
    return r;
}

enum { A = OSS_AUTHZ_ALLOW, F = OSS_AUTHZ_FORBIDDEN, H = OSS_AUTHZ_HIDDEN };

/* Expected outcome per action for one principal on ACC (in its scope). */
typedef struct row {
    const char *label;
    oss_principal_t p;
    int want[OSS_ACT_COUNT];
} row_t;

static void
test_matrix(void **state) {
    (void)state;
    /* order: account.read personal.read members.manage transfer
     * handover.file handover.object handover.decide terminate
     * officers.manage help.decide subject.erase audit.read restrict; target =
     * ACC in REGION, institution "090" for officers.manage */
    row_t rows[] = {
        {"owner",
         who(OSS_ROLE_OWNER, ACC, NULL, NULL, NULL),
         {A, A, A, A, A, A, F, F, F, F, F, F, F}},
        {"preparer",
         who(OSS_ROLE_PREPARER, ACC, NULL, NULL, NULL),
         {A, F, F, F, A, F, F, F, F, F, F, F, F}},
        {"viewer",
         who(OSS_ROLE_VIEWER, ACC, NULL, NULL, NULL),
         {A, F, F, F, A, F, F, F, F, F, F, F, F}},
        {"owner of another",
         who(OSS_ROLE_OWNER, OTHER, NULL, NULL, NULL),
         {H, H, H, H, H, H, H, H, F, F, F, H, H}},
        {"no grants",
         who(OSS_ROLE_NONE, NULL, NULL, NULL, NULL),
         {H, H, H, H, H, H, H, H, F, F, F, H, H}},
        {"officer oss",
         who(OSS_ROLE_OFFICER, NULL, "oss", NULL, NULL),
         {A, A, F, F, F, F, A, A, F, F, F, F, A}},
        {"officer region in",
         who(OSS_ROLE_OFFICER, NULL, "3201000000", NULL, "3201000000"),
         {A, A, F, F, F, F, A, F, F, F, F, F, F}},
        {"officer region out",
         who(OSS_ROLE_OFFICER, NULL, "3300000000", NULL, "3300000000"),
         {F, F, F, F, F, F, F, F, F, F, F, F, F}},
        {"officer of a region institution",
         who(OSS_ROLE_OFFICER, NULL, "3201000000", NULL, NULL),
         {A, A, F, F, F, F, A, F, F, F, F, F, F}},
        {"officer sector only",
         who(OSS_ROLE_OFFICER, NULL, "090", "090", NULL),
         {F, F, F, F, F, F, F, F, F, F, F, F, F}},
        {"access_admin 090",
         who(OSS_ROLE_ACCESS_ADMIN, NULL, "090", NULL, NULL),
         {F, F, F, F, F, F, F, F, A, F, F, F, F}},
        {"access_admin oss",
         who(OSS_ROLE_ACCESS_ADMIN, NULL, "oss", NULL, NULL),
         {F, F, F, F, F, F, F, F, F, F, F, F, F}},
        {"operator",
         who(OSS_ROLE_OPERATOR, NULL, "oss", NULL, NULL),
         {A, A, F, F, A, F, F, A, F, A, A, A, A}},
        {"auditor",
         who(OSS_ROLE_AUDITOR, NULL, "oss", NULL, NULL),
         {A, A, F, F, F, F, F, F, F, F, F, A, F}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        for (int a = 0; a < OSS_ACT_COUNT; a++) {
            /* officers.manage targets an institution, not an account */
            bool inst = a == OSS_ACT_OFFICERS_MANAGE ||
                        a == OSS_ACT_HELP_DECIDE || a == OSS_ACT_SUBJECT_ERASE;
            oss_authz_t got =
                check(&rows[i].p, (oss_action_t)a, inst ? NULL : ACC, REGION,
                      a == OSS_ACT_OFFICERS_MANAGE ? "090" : NULL);
            if ((int)got != rows[i].want[a])
                fail_msg("%s %s: got %d, want %d", rows[i].label,
                         oss_action_name((oss_action_t)a), (int)got,
                         rows[i].want[a]);
        }
}

static void
test_reasons(void **state) {
    (void)state;
    oss_target_t t = {.account_id = ACC, .region = REGION};
    const char *why;
    oss_principal_t out =
        who(OSS_ROLE_OFFICER, NULL, "3300000000", NULL, "3300000000");
    assert_int_equal(oss_authz_check(&out, OSS_ACT_ACCOUNT_READ, &t, &why),
                     OSS_AUTHZ_FORBIDDEN);
    assert_string_equal(why, "out_of_scope");
    oss_principal_t viewer = who(OSS_ROLE_VIEWER, ACC, NULL, NULL, NULL);
    assert_int_equal(oss_authz_check(&viewer, OSS_ACT_MEMBERS_MANAGE, &t, &why),
                     OSS_AUTHZ_FORBIDDEN);
    assert_string_equal(why, "role");
    oss_principal_t stranger = who(OSS_ROLE_OWNER, OTHER, NULL, NULL, NULL);
    assert_int_equal(oss_authz_check(&stranger, OSS_ACT_ACCOUNT_READ, &t, &why),
                     OSS_AUTHZ_HIDDEN);
    assert_string_equal(why, "not_a_member");
    oss_principal_t admin = who(OSS_ROLE_ACCESS_ADMIN, NULL, "090", NULL, NULL);
    oss_target_t ti = {.institution = "3201000000"};
    assert_int_equal(
        oss_authz_check(&admin, OSS_ACT_OFFICERS_MANAGE, &ti, &why),
        OSS_AUTHZ_FORBIDDEN);
    assert_string_equal(why, "other_institution");
    /* NULL why and NULL target are accepted */
    assert_int_equal(oss_authz_check(&admin, OSS_ACT_AUDIT_READ, NULL, NULL),
                     OSS_AUTHZ_FORBIDDEN);
    assert_int_equal(oss_authz_check(NULL, OSS_ACT_AUDIT_READ, NULL, &why),
                     OSS_AUTHZ_FORBIDDEN);
}

static void
test_several_grants(void **state) {
    (void)state;
    /* a viewer of ACC who owns OTHER: owner rights only on OTHER */
    oss_principal_t p = who(OSS_ROLE_VIEWER, ACC, NULL, NULL, NULL);
    p.grants[1] = who(OSS_ROLE_OWNER, OTHER, NULL, NULL, NULL).grants[0];
    p.ngrants = 2;
    assert_int_equal(check(&p, OSS_ACT_MEMBERS_MANAGE, ACC, REGION, NULL), F);
    assert_int_equal(check(&p, OSS_ACT_MEMBERS_MANAGE, OTHER, REGION, NULL), A);
    assert_int_equal(check(&p, OSS_ACT_ACCOUNT_READ, ACC, REGION, NULL), A);
    assert_int_equal(check(&p, OSS_ACT_ACCOUNT_READ,
                           "0190b2a0-0000-7000-8000-000000000003", REGION,
                           NULL),
                     H);
    /* grants past ngrants are ignored */
    p.ngrants = 1;
    assert_int_equal(check(&p, OSS_ACT_MEMBERS_MANAGE, OTHER, REGION, NULL), H);
    /* an officer who is also a business owner: out of scope is 403 */
    oss_principal_t o =
        who(OSS_ROLE_OFFICER, NULL, "3300000000", NULL, "3300000000");
    o.grants[1] = who(OSS_ROLE_OWNER, OTHER, NULL, NULL, NULL).grants[0];
    o.ngrants = 2;
    assert_int_equal(check(&o, OSS_ACT_ACCOUNT_READ, ACC, REGION, NULL), F);
}

static void
test_region_covers(void **state) {
    (void)state;
    assert_true(oss_authz_region_covers("", "3201012001"));
    assert_true(oss_authz_region_covers(NULL, NULL));
    assert_true(oss_authz_region_covers("3200000000", "3201012001"));
    assert_true(oss_authz_region_covers("3201000000", "3201012001"));
    assert_true(oss_authz_region_covers("3201010000", "3201012001"));
    assert_true(oss_authz_region_covers("3201012001", "3201012001"));
    assert_false(oss_authz_region_covers("3201012002", "3201012001"));
    assert_false(oss_authz_region_covers("3202000000", "3201012001"));
    assert_false(oss_authz_region_covers("3300000000", "3201012001"));
    /* 32 must not cover 3x when written as 3000000000: pairs, not digits */
    assert_false(oss_authz_region_covers("3000000000", "3201012001"));
    assert_false(oss_authz_region_covers("3200000000", ""));
    assert_false(oss_authz_region_covers("3200000000", NULL));
    assert_false(oss_authz_region_covers("32", "3201012001"));
    assert_false(oss_authz_region_covers("320100000x", "3201012001"));
    assert_false(oss_authz_region_covers("3200000000", "32010120"));
    /* no region on the account: only national / unscoped officers */
    oss_principal_t reg =
        who(OSS_ROLE_OFFICER, NULL, "3201000000", NULL, "3201000000");
    assert_int_equal(check(&reg, OSS_ACT_ACCOUNT_READ, ACC, NULL, NULL), F);
    oss_principal_t nat = who(OSS_ROLE_OFFICER, NULL, "oss", NULL, NULL);
    assert_int_equal(check(&nat, OSS_ACT_ACCOUNT_READ, ACC, NULL, NULL), A);
    /* an "oss" officer narrowed to a region is held to it */
    oss_principal_t natr =
        who(OSS_ROLE_OFFICER, NULL, "oss", NULL, "3300000000");
    assert_int_equal(check(&natr, OSS_ACT_ACCOUNT_READ, ACC, REGION, NULL), F);
    /* sector officers reach a target of their sector */
    oss_principal_t sec = who(OSS_ROLE_OFFICER, NULL, "090", "090", NULL);
    oss_target_t t = {.account_id = ACC, .region = REGION, .sector = "090"};
    assert_int_equal(oss_authz_check(&sec, OSS_ACT_ACCOUNT_READ, &t, NULL),
                     OSS_AUTHZ_ALLOW);
    t.sector = "091";
    assert_int_equal(oss_authz_check(&sec, OSS_ACT_ACCOUNT_READ, &t, NULL),
                     OSS_AUTHZ_FORBIDDEN);
}

static void
test_names(void **state) {
    (void)state;
    for (int r = OSS_ROLE_OWNER; r <= OSS_ROLE_AUDITOR; r++)
        assert_int_equal(oss_role_parse(oss_role_name((oss_role_t)r)), r);
    assert_int_equal(oss_role_parse("root"), OSS_ROLE_NONE);
    assert_int_equal(oss_role_parse(""), OSS_ROLE_NONE);
    assert_int_equal(oss_role_parse(NULL), OSS_ROLE_NONE);
    assert_string_equal(oss_role_name(OSS_ROLE_NONE), "");
    assert_string_equal(oss_role_name((oss_role_t)99), "");
    assert_string_equal(oss_action_name(OSS_ACT_ACCOUNT_READ), "account.read");
    assert_string_equal(oss_action_name(OSS_ACT_AUDIT_READ), "audit.read");
    assert_string_equal(oss_action_name(OSS_ACT_COUNT), "");
    for (int a = 0; a < OSS_ACT_COUNT; a++)
        assert_true(oss_action_name((oss_action_t)a)[0] != '\0');
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_several_grants),
        cmocka_unit_test(test_region_covers),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
