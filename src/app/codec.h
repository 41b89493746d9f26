/* The codecs between protobuf event payloads (schemas/oss/v1) and the pure
 * core's facts (src/core): each decodes the events of a stream into the
 * core's facts and folds them into its state, and packs the facts a core
 * decide() returned as new events. The event-type names are the core's
 * (OSS_LC_T_*, OSS_AC_T_*, OSS_RC_T_*) and principal.h's (OSS_APP_T_*).
 *
 * Pure apart from allocation (libprotobuf-c); callable from any thread.
 * Histories are borrowed; new events are appended to out (which owns
 * them). */
#ifndef OSS_APP_CODEC_H
#define OSS_APP_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/access.h"
#include "core/error.h"
#include "core/event.h"
#include "core/lifecycle.h"
#include "core/recovery.h"

/* ---- the account lifecycle (access streams) ----------------------------- */

/* Folds an access stream's history (borrowed) into *st, decoding each
 * lifecycle event; registered: the principal exists (an AccountRegistered
 * or PrincipalCreated the caller knows of), applied first. */
void oss_app_lc_fold(const oss_event_t *history, size_t n, bool registered,
                     oss_lc_state_t *st);
/* Encodes the facts of d (decided against st) as events appended to out.
 * account_id: the principal; method: of an ActivationSucceeded (may be
 * NULL). */
oss_code_t oss_app_lc_encode_method(const oss_lc_decision_t *d,
                                    const oss_lc_state_t *st,
                                    const char *method, const char *account_id,
                                    oss_event_list_t *out, oss_err_t *err);
/* The same without a method (e.g. a password reset that ends every
 * session: PasswordSet + SessionEnded facts). */
oss_code_t oss_app_lc_encode(const oss_lc_decision_t *d,
                             const oss_lc_state_t *st, const char *account_id,
                             oss_event_list_t *out, oss_err_t *err);

/* ---- access rights (account streams) ------------------------------------ */

/* Folds an account stream's history into *st (account_id: the first
 * owner). */
void oss_app_ac_fold(const oss_event_t *history, size_t n,
                     const char *account_id, oss_ac_state_t *st);
/* Packs one decided fact as a new event of out with reason (borrowed);
 * new_principal: the fact names a principal created in the same batch. */
oss_code_t oss_app_ac_encode(const oss_ac_fact_t *f, bool new_principal,
                             const char *reason, oss_event_list_t *out,
                             oss_err_t *err);

/* ---- account recovery ---------------------------------------------------- */

/* Decodes the recovery facts of one event into *f (others: OSS_RC_OTHER). */
void oss_app_rc_decode(const oss_event_t *ev, oss_rc_fact_t *f);

#endif
