/* The notifier's loop: the one active instance (advisory lock) sweeps the
 * journal, purges delivered codes, polls targeted notices and consumes
 * Kafka in turns (see notifier.h for the delivery guarantees, and
 * notifier_int.h for the files that do each part). */
#include "notifier_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "log/log.h"

#define OFFSET_FLUSH_MS 1000
#define BOOTSTRAP_CHECK_MS 5000

oss_code_t
oss_notifier_run(const oss_config_t *cfg, volatile sig_atomic_t *stop,
                 oss_err_t *err) {
    notifier_t *n = calloc(1, sizeof *n);
    oss_code_t rc = OSS_OK;
    if (!n)
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    n->cfg = cfg;
    n->stop = stop;
    if ((rc = oss_keyring_load(oss_config_str(cfg, "crypto.master_key_file"),
                               &n->master, err)) ||
        (rc = oss_keyring_load(oss_config_str(cfg, "bus.signing_key_file"),
                               &n->bus, err)))
        goto done;
    oss_mail_envelope_addr(oss_config_str(cfg, "notifier.from"), n->from_addr,
                           sizeof n->from_addr);
    if ((rc = nt_kafka_new(n, err)))
        goto done;
    if (!(n->curl = curl_easy_init())) {
        rc = oss_err_set(err, OSS_ENOMEM, "could not create a curl handle");
        goto done;
    }
    if ((rc = nt_commit_start(n, err)) || (rc = nt_pool_start(n, err)))
        goto done;
    int64_t last_flush = oss_mono_ms(), last_check = oss_mono_ms(),
            backoff = 500;
    int waiting_logged = 0;
    int64_t last_sweep = 0;
    while (!*stop) {
        oss_err_t e = {0};
        if (!n->locked || !n->pg || PQstatus(n->pg) != CONNECTION_OK) {
            /* lost the session (and its lock) or never had it: stop
             * consuming until this instance is the active one again */
            nt_kafka_close(n);
            if (!nt_try_lock(n)) {
                if (!waiting_logged++)
                    oss_info("standing by: another notifier is active (or "
                             "PostgreSQL is down)");
                nt_nap(n, 1000);
                continue;
            }
            waiting_logged = 0;
            oss_info("active: holding the notifier lock");
        }
        /* a sweep page that was full continues at the next turn, after a
         * Kafka batch, so neither path starves the other */
        if (n->sweep_again ||
            oss_mono_ms() - last_sweep >=
                oss_config_int(cfg, "notifier.sweep_interval_s") * 1000) {
            nt_sweep(n);
            nt_deliveries_purge(n);
            last_sweep = oss_mono_ms();
        }
        nt_notices_tick(n);
        {
            if (nt_kafka_ready(n, &e)) {
                oss_warn("not consuming yet, retrying in %" PRId64 " ms: %s",
                         backoff, e.msg);
                nt_nap(n, backoff);
                backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
                continue;
            }
            backoff = 500;
        }
        if (nt_consume_batch(n) != OSS_OK) {
            /* stopping, or lost the lock mid-delivery: the unfinished
             * message and what follows it are re-read by the next active
             * instance from the stored offsets */
            nt_offsets_flush(n, &e);
            nt_kafka_close(n);
            continue;
        }
        int64_t t = oss_mono_ms();
        if (n->dirty && t - last_flush >= OFFSET_FLUSH_MS) {
            if (nt_offsets_flush(n, &e))
                oss_warn("could not store positions (will retry): %s", e.msg);
            last_flush = t;
        }
        if (t - last_check >= BOOTSTRAP_CHECK_MS) {
            last_check = t;
            if (nt_kafka_bootstrap_changed(n)) {
                oss_info("bootstrap list changed: rebuilding the consumer");
                nt_offsets_flush(n, &e);
                nt_kafka_close(n);
            }
        }
    }
    {
        oss_err_t e = {0};
        if (nt_offsets_flush(n, &e))
            oss_warn("could not store positions at exit: %s", e.msg);
    }
    nt_pool_stop(n);
    oss_info("stopping: sent=%" PRId64 " skipped=%" PRId64 " rejected=%" PRId64,
             n->sent, n->skipped, n->rejected);
done:
    nt_pool_stop(n);
    nt_commit_stop(n);
    oss_bus_consumer_free(n->consumer);
    if (n->curl)
        curl_easy_cleanup(n->curl);
    PQfinish(n->pg);
    oss_journal_free(n->journal);
    OPENSSL_cleanse(&n->master, sizeof n->master);
    OPENSSL_cleanse(&n->bus, sizeof n->bus);
    free(n);
    return rc;
}
