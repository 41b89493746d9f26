/* Business access rights (hak akses), pure: the account's members (owner and
 * delegates), an ownership transfer offered to another person, written
 * hand-over requests with an owner's objection and a cooling-off counted in
 * WORKING days (weekends and a holiday list, in Indonesian Western time),
 * and the end of access with a reason code from the terms of use. Folded
 * from the account stream "account-<id>" and decided against a caller-given
 * time. The shell (producers/api/access.c) decodes each journal event into
 * an oss_ac_fact_t and encodes the facts a decide function returns back
 * into events (schemas/oss/v1/access.proto); the event's actor and reason
 * (who and why) are the shell's. libc only; no allocation; thread-safe. */
#ifndef OSS_CORE_ACCESS_H
#define OSS_CORE_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/authz.h"
#include "core/error.h"

/* Payload types (schemas/oss/v1/access.proto). */
#define OSS_AC_T_MEMBER_ADDED "oss.v1.MemberAdded"
#define OSS_AC_T_MEMBER_REMOVED "oss.v1.MemberRemoved"
#define OSS_AC_T_TRANSFER_OFFERED "oss.v1.OwnershipTransferOffered"
#define OSS_AC_T_TRANSFER_ACCEPTED "oss.v1.OwnershipTransferAccepted"
#define OSS_AC_T_HANDOVER_FILED "oss.v1.HandoverFiled"
#define OSS_AC_T_HANDOVER_OBJECTED "oss.v1.HandoverObjected"
#define OSS_AC_T_HANDOVER_APPROVED "oss.v1.HandoverApproved"
#define OSS_AC_T_HANDOVER_REJECTED "oss.v1.HandoverRejected"
#define OSS_AC_T_ACCESS_TERMINATED "oss.v1.AccessTerminated"
#define OSS_AC_T_ACCESS_RESTRICTED "oss.v1.AccessRestricted"
#define OSS_AC_T_RESTRICTION_LIFTED "oss.v1.AccessRestrictionLifted"

#define OSS_AC_ID_MAX 65
#define OSS_AC_REF_MAX 129
#define OSS_AC_MAX_MEMBERS 32
#define OSS_AC_MAX_REQUESTS 16
#define OSS_AC_MAX_HOLIDAYS 128

typedef enum oss_ac_kind {
    OSS_AC_OTHER = 0,  /* not an access event: version only */
    OSS_AC_REGISTERED, /* AccountRegistered: principal_id = owner */
    OSS_AC_MEMBER_ADDED,
    OSS_AC_MEMBER_REMOVED,
    OSS_AC_TRANSFER_OFFERED,
    OSS_AC_TRANSFER_ACCEPTED,
    OSS_AC_HANDOVER_FILED,
    OSS_AC_HANDOVER_OBJECTED,
    OSS_AC_HANDOVER_APPROVED,
    OSS_AC_HANDOVER_REJECTED,
    OSS_AC_TERMINATED,
    OSS_AC_RESTRICTED,        /* the OSS authority suspends the account */
    OSS_AC_RESTRICTION_LIFTED /* ... and lifts the suspension */
} oss_ac_kind_t;

/* Why access ends (the terms of use, ../shared/DOMAIN.md): (a) written
 * request because the responsible person changed, (b) written request for
 * suspected misuse, (c) the OSS authority's own finding, (d) law. */
typedef enum oss_ac_term {
    OSS_AC_TERM_NONE = 0,
    OSS_AC_TERM_RESPONSIBLE_PERSON_CHANGED,
    OSS_AC_TERM_MISUSE_REQUEST,
    OSS_AC_TERM_AUTHORITY_FINDING,
    OSS_AC_TERM_LAW
} oss_ac_term_t;

/* "responsible_person_changed", ...; "" for NONE. */
const char *oss_ac_term_name(oss_ac_term_t t);
/* OSS_AC_TERM_NONE when unknown. */
oss_ac_term_t oss_ac_term_parse(const char *s);

/* One access event, decoded. Strings are "" when not relevant. */
typedef struct oss_ac_fact {
    oss_ac_kind_t kind;
    int64_t version;           /* stream version (0 when decided) */
    int64_t at_us;             /* occurred_at */
    char actor[OSS_AC_ID_MAX]; /* the event's actor_id (filed_by,
                                  objected_by, ...) */
    /* REGISTERED: the first owner; MEMBER_*: the member; TRANSFER_*: the
     * offered / new owner; HANDOVER_FILED / APPROVED: the new owner;
     * TERMINATED: whose access ended ("" = the whole account) */
    char principal_id[OSS_AC_ID_MAX];
    char previous_owner[OSS_AC_ID_MAX]; /* TRANSFER_ACCEPTED, HANDOVER_APPROVED
                                         */
    char request_id[OSS_AC_ID_MAX];     /* HANDOVER_* */
    char evidence_ref[OSS_AC_REF_MAX];  /* HANDOVER_FILED, TERMINATED,
                                           RESTRICTED */
    oss_role_t role;                    /* MEMBER_ADDED / REMOVED */
    int64_t until_us;                   /* TRANSFER_OFFERED: offer expiry;
                                           HANDOVER_FILED: end of cooling-off */
    int working_days;                   /* HANDOVER_FILED: the period */
    oss_ac_term_t term;                 /* TERMINATED */
} oss_ac_fact_t;

typedef struct oss_ac_member {
    char principal_id[OSS_AC_ID_MAX];
    oss_role_t role; /* PREPARER | VIEWER */
    int64_t since_us;
} oss_ac_member_t;

typedef enum oss_ac_req_status {
    OSS_AC_REQ_FILED = 0, /* waiting for a decision */
    OSS_AC_REQ_OBJECTED,  /* the owner objected: no approval */
    OSS_AC_REQ_APPROVED,
    OSS_AC_REQ_REJECTED
} oss_ac_req_status_t;

/* "filed", "objected", "approved", "rejected". */
const char *oss_ac_req_status_name(oss_ac_req_status_t s);

typedef struct oss_ac_request {
    char request_id[OSS_AC_ID_MAX];
    char filed_by[OSS_AC_ID_MAX];
    char new_owner[OSS_AC_ID_MAX];
    char previous_owner[OSS_AC_ID_MAX]; /* the owner when filed */
    char evidence_ref[OSS_AC_REF_MAX];
    int64_t filed_at_us, cooling_off_until_us, decided_at_us;
    char objected_by[OSS_AC_ID_MAX];
    oss_ac_req_status_t status;
} oss_ac_request_t;

/* State folded from an account stream. */
typedef struct oss_ac_state {
    int64_t version;
    bool registered;
    bool terminated; /* the whole account's access ended */
    oss_ac_term_t termination;
    /* suspended by the OSS authority (terms of use: it may restrict
     * access): nobody signs in to it or acts on it until lifted */
    bool restricted;
    char restricted_by[OSS_AC_ID_MAX];
    int64_t restricted_at_us;
    char owner[OSS_AC_ID_MAX]; /* "" when none (terminated owner) */
    oss_ac_member_t members[OSS_AC_MAX_MEMBERS]; /* delegates, not the owner */
    size_t nmembers;
    bool transfer_open;
    char transfer_to[OSS_AC_ID_MAX];
    int64_t transfer_expires_at_us;
    oss_ac_request_t requests[OSS_AC_MAX_REQUESTS]; /* oldest first; the
                                          oldest decided ones are dropped */
    size_t nrequests;
} oss_ac_state_t;

/* Configuration (access.cooling_off_working_days, access.holidays_file). */
typedef struct oss_ac_policy {
    int cooling_off_working_days; /* 0 = approval may follow at once */
    int64_t transfer_ttl_us;      /* how long an offer stays open */
    int utc_offset_s;             /* working days are counted in this
                                     zone: WIB = UTC+7 */
    const int32_t *holidays;      /* sorted YYYYMMDD, borrowed */
    size_t nholidays;
} oss_ac_policy_t;

/* 5 working days, 7-day offers, UTC+7, no holidays. */
void oss_ac_policy_default(oss_ac_policy_t *p);

/* ---- working days ---------------------------------------------------------
 */

/* Parses one line of a holiday file: "YYYY-MM-DD[ anything]". Returns 1 and
 * sets *ymd (YYYYMMDD) for a valid date, 0 for a blank or "#" comment line,
 * -1 for anything else. */
int oss_ac_holiday_parse(const char *line, int32_t *ymd);

/* Sorts and de-duplicates ymd[0..n) in place; returns the new length. */
size_t oss_ac_holidays_sort(int32_t *ymd, size_t n);

/* True when ymd (YYYYMMDD) is Monday to Friday and not in p's holidays. */
bool oss_ac_is_working_day(const oss_ac_policy_t *p, int32_t ymd);

/* The end of a cooling-off of `days` working days for a request filed at
 * filed_at_us: the local midnight (p->utc_offset_s) that ends the days-th
 * working day after the filing day (the filing day never counts). 0 days:
 * filed_at_us itself. */
int64_t oss_ac_cooling_off_end(const oss_ac_policy_t *p, int64_t filed_at_us,
                               int days);

/* ---- fold ------------------------------------------------------------------
 */

void oss_ac_state_init(oss_ac_state_t *st);
/* Applies one fact (borrowed). */
void oss_ac_evolve(oss_ac_state_t *st, const oss_ac_fact_t *f);
void oss_ac_fold(oss_ac_state_t *st, const oss_ac_fact_t *facts, size_t n);

/* The role principal_id holds on the account (OWNER, PREPARER, VIEWER or
 * NONE). */
oss_role_t oss_ac_role_of(const oss_ac_state_t *st, const char *principal_id);
/* The request with id, or NULL. */
const oss_ac_request_t *oss_ac_request_find(const oss_ac_state_t *st,
                                            const char *request_id);

/* ---- decide ----------------------------------------------------------------
 */

/* What a decide function returns: facts to encode as events, in order
 * (version 0, at_us = now; the shell sets actor and reason). */
typedef struct oss_ac_decision {
    oss_ac_fact_t facts[2];
    size_t n;
    int64_t retry_after_us; /* > 0 with "cooling_off" */
} oss_ac_decision_t;

/* Refusals carry a code in err->field that the shell maps to HTTP:
 *   OSS_ENOTFOUND "not_registered" (no such account), "not_a_member",
 *     "no_request";
 *   OSS_EINVAL with the request field ("role", "principal_id",
 *     "evidence_ref", "reason_code", "new_owner");
 *   OSS_ECONFLICT "terminated", "already_member", "is_owner",
 *     "too_many_members", "no_transfer", "not_offered", "expired",
 *     "handover_pending", "decided", "already_objected", "objected",
 *     "cooling_off" (d->retry_after_us set). */

/* Adds principal_id as a delegate with role PREPARER or VIEWER. */
oss_code_t oss_ac_decide_add_member(const oss_ac_state_t *st, int64_t now,
                                    const char *principal_id, oss_role_t role,
                                    oss_ac_decision_t *d, oss_err_t *err);
/* Removes a delegate (never the owner: "is_owner"). */
oss_code_t oss_ac_decide_remove_member(const oss_ac_state_t *st, int64_t now,
                                       const char *principal_id,
                                       oss_ac_decision_t *d, oss_err_t *err);
/* Offers ownership to principal_id (a delegate or a new person's new
 * principal), open for p->transfer_ttl_us; a newer offer replaces an open
 * one. */
oss_code_t oss_ac_decide_offer_transfer(const oss_ac_state_t *st,
                                        const oss_ac_policy_t *p, int64_t now,
                                        const char *principal_id,
                                        oss_ac_decision_t *d, oss_err_t *err);
/* The offered person (caller) accepts: OwnershipTransferAccepted. */
oss_code_t oss_ac_decide_accept_transfer(const oss_ac_state_t *st, int64_t now,
                                         const char *caller,
                                         oss_ac_decision_t *d, oss_err_t *err);
/* A written hand-over request (filed_by: the caller; new_owner: an
 * existing principal; evidence_ref: the deed of change, required); the
 * cooling-off ends oss_ac_cooling_off_end(p, now, days). One undecided
 * request at a time ("handover_pending"). */
oss_code_t oss_ac_decide_file_handover(
    const oss_ac_state_t *st, const oss_ac_policy_t *p, int64_t now,
    const char *request_id, const char *filed_by, const char *new_owner,
    const char *evidence_ref, oss_ac_decision_t *d, oss_err_t *err);
/* The owner (by) objects to an undecided request. */
oss_code_t oss_ac_decide_object_handover(const oss_ac_state_t *st, int64_t now,
                                         const char *request_id, const char *by,
                                         oss_ac_decision_t *d, oss_err_t *err);
/* An officer's decision. Approval is refused while the cooling-off runs
 * ("cooling_off", d->retry_after_us = time left), after an objection
 * ("objected") or when the account's access ended ("terminated"). A
 * rejection is always possible while undecided. */
oss_code_t oss_ac_decide_handover(const oss_ac_state_t *st, int64_t now,
                                  const char *request_id, bool approve,
                                  oss_ac_decision_t *d, oss_err_t *err);
/* Ends access: of principal_id (owner or delegate) or, when principal_id is
 * "" or NULL, of the whole account. evidence_ref (the written request) is
 * required for RESPONSIBLE_PERSON_CHANGED and MISUSE_REQUEST. */
oss_code_t oss_ac_decide_terminate(const oss_ac_state_t *st, int64_t now,
                                   oss_ac_term_t term, const char *principal_id,
                                   const char *evidence_ref,
                                   oss_ac_decision_t *d, oss_err_t *err);

/* The OSS authority restricts (suspends) the account's access: refused
 * ECONFLICT "terminated" or "already_restricted"; evidence_ref (may be
 * NULL) names its decision. Every member's sessions end (the shell's),
 * grants and passwords stay: lifting restores sign-in. */
oss_code_t oss_ac_decide_restrict(const oss_ac_state_t *st, int64_t now,
                                  const char *evidence_ref,
                                  oss_ac_decision_t *d, oss_err_t *err);
/* ... and lifts it: refused ECONFLICT "terminated" or "not_restricted". */
oss_code_t oss_ac_decide_lift_restriction(const oss_ac_state_t *st, int64_t now,
                                          oss_ac_decision_t *d, oss_err_t *err);

#endif
