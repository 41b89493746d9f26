/* Group commit (batch.h): the commands of every batched job a worker took,
 * in one oss_journal_execute(); each job then reads its own outcomes. */
#include "app/batch.h"

#include <stdlib.h>

#include "log/log.h"

oss_code_t
oss_app_batch_run(oss_app_worker_t *w, oss_journal_t *j, oss_app_job_t **jobs,
                  size_t n) {
    oss_command_t *cmds = calloc(n * OSS_APP_BATCH_MAX_CMDS, sizeof *cmds);
    size_t *off = calloc(n, sizeof *off), *cnt = calloc(n, sizeof *cnt);
    size_t nc = 0;
    oss_err_t err;
    oss_code_t rc = OSS_OK;

    oss_err_clear(&err);
    if (!cmds || !off || !cnt) {
        rc = oss_err_set(&err, OSS_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            jobs[i]->finish(w, jobs[i], NULL, 0, rc, &err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        oss_log_set_cid(jobs[i]->cid);
        off[i] = nc;
        cnt[i] = jobs[i]->prepare(w, jobs[i], &cmds[nc]);
        if (cnt[i] > OSS_APP_BATCH_MAX_CMDS)
            cnt[i] = OSS_APP_BATCH_MAX_CMDS;
        nc += cnt[i];
    }
    oss_log_set_cid(NULL);
    if (!nc)
        goto done;
    if (!j) {
        rc = oss_err_set(&err, OSS_EUNAVAIL, "the database is unavailable");
    } else {
        oss_err_clear(&err);
        rc = oss_journal_execute(j, cmds, nc, &err);
        if (rc != OSS_OK)
            oss_warn("batch of %zu commands not appended: %s", nc, err.msg);
    }
    for (size_t i = 0; i < n; i++) {
        if (!cnt[i])
            continue;
        oss_log_set_cid(jobs[i]->cid);
        jobs[i]->finish(w, jobs[i], &cmds[off[i]], cnt[i], rc, &err);
    }
    oss_log_set_cid(NULL);
done:
    for (size_t i = 0; cmds && i < nc; i++) {
        oss_event_list_free(&cmds[i].events);
        free(cmds[i].replay_response);
    }
    free(cnt);
    free(off);
    free(cmds);
    return rc;
}
