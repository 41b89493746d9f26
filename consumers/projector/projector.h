/* The projector's public interface: the Kafka -> read-model loop, the
 * journal catch-up, the from-scratch rebuild with an atomic schema swap, and
 * the dead-letter tools. The `oss` CLI (consumers/audit) and the tests call
 * these; consumers/projector/main.c wires them to a process.
 *
 * Read models live in the schema named by projector.schema (default "rm",
 * defined by infra/sql/010_read_models.sql through oss.rm_define()):
 *   <schema>.accounts        (account_id, stream_id, status, scale,
 *                             actor_type, country, terms_version, subject_id,
 *                             registered_at, version, apply_count,
 *                             updated_at); apply_count = events applied
 *   <schema>.applied_streams (stream_id, version): dedupe by (stream, version)
 *   <schema>.positions       (name, cluster_id, topic, partition,
 *                             next_offset): Kafka positions, written in the
 *                             same transaction as the read-model changes
 *   <schema>.catchup         (name, xid, position): journal catch-up cursor
 * Dead letters: oss.dead_letters (infra/sql/020_dead_letters.sql).
 *
 * Every function takes cfg borrowed; errors are set in *err (may be NULL).
 * Each opens its own connections (pg.url; pg.admin_url for the rebuild swap)
 * and closes them before returning. Not thread-safe with itself on the same
 * schema: one projector per schema holds an advisory lock while it runs. */
#ifndef OSS_PROJECTOR_H
#define OSS_PROJECTOR_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "core/error.h"

/* id_or_all value of oss_dlq_redrive(): every unresolved dead letter. */
#define OSS_DLQ_ALL 0

/* Runs the projector until *stop becomes non-zero (set it from a SIGTERM
 * handler). Waits for the schema's advisory lock first (a second instance is
 * a hot standby). Survives PostgreSQL and broker outages (retries), rebuilds
 * its Kafka handle when the bootstrap list changes, and catches up from the
 * journal when the cluster id changed or an offset is out of range. Returns
 * OSS_OK after a clean stop, or an error that is not worth retrying (bad
 * configuration, unreadable signing key file). */
oss_code_t oss_projector_run(const oss_config_t *cfg,
                             volatile sig_atomic_t *stop, oss_err_t *err);

/* Rebuilds every read model from the journal into a fresh schema
 * "<schema>_new" in chunks of projector.chunk_size events (one short
 * transaction each), then swaps it in atomically as the owner (pg.admin_url)
 * while the old schema keeps serving until then; Kafka positions are carried
 * across. Progress goes to oss.rebuild_progress and, when
 * progress_to_terminal, to stderr (\r-updated when stderr is a terminal).
 * OSS_EINVAL when pg.admin_url is unset. */
oss_code_t oss_projector_rebuild(const oss_config_t *cfg,
                                 bool progress_to_terminal, oss_err_t *err);

/* Applies journal events from the schema's catch-up cursor up to the current
 * commit horizon (pg_snapshot_xmin), deduplicated, in short transactions.
 * *applied (may be NULL) receives the number of events that changed the read
 * models. Safe while the projector runs (dedupe + row locks). */
oss_code_t oss_projector_catch_up(const oss_config_t *cfg, int64_t *applied,
                                  oss_err_t *err);

/* Prints the dead letters of this projector (projector.name), unresolved
 * first, one per line: id, created_at, topic/partition/offset, stream_id,
 * version, kind, reason, state. out is borrowed. */
oss_code_t oss_dlq_list(const oss_config_t *cfg, FILE *out, oss_err_t *err);

/* Re-verifies (signature, envelope) and re-applies one dead letter (id > 0)
 * or every unresolved one (OSS_DLQ_ALL); the ones that now apply (or were
 * applied meanwhile from the journal) are marked resolved, the others keep
 * their row with the new reason. OSS_ENOTFOUND for an unknown id. */
oss_code_t oss_dlq_redrive(const oss_config_t *cfg, int64_t id_or_all,
                           oss_err_t *err);
/* Same, printing one line per dead letter to out (borrowed, may be NULL) and
 * counting resolved / still failing (both may be NULL). */
oss_code_t oss_dlq_redrive_ex(const oss_config_t *cfg, int64_t id_or_all,
                              FILE *out, int64_t *resolved, int64_t *failed,
                              oss_err_t *err);

#endif
