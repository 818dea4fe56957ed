#include "trace/tracer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/runlog.h"

/* The counts for the frequency buckets, widened to the model's vocabulary (ids the shard never uses
 * count 0). Without them every token would fall in one bucket and every H4 value would be a fill value, so
 * a missing, corrupt or foreign counts file stops a traced run: NULL with *rc -1 and err_set() naming it. */
static uint64_t *load_counts(const config_t *cfg, const shard_t *train, int V, int *rc)
{
    char path[4200];
    config_counts_path(cfg, path, sizeof path);
    uint32_t vocab = train->vocab_size;
    uint64_t *counts;
    if ((*rc = shard_counts_expect(path, train->tokenizer_id, vocab, train->n_tokens, cfg->train_path, &counts))) {
        char why[1024];
        snprintf(why, sizeof why, "%s", err_msg()); /* err_set() reuses err_msg()'s buffer */
        *rc = err_set("%s (tracing needs the unigram counts of the training shard for its frequency buckets, H4: "
                      "run il-prepare, or set data.counts_path)", why);
        return NULL;
    }
    uint64_t *wide = err_calloc((size_t)V, sizeof *wide);
    memcpy(wide, counts, vocab * sizeof *wide);
    free(counts);
    return wide;
}

int tracer_segment(const char *dir, MPI_Comm comm, int *segment)
{
    int rank, msg[2] = {0, 0}; /* rc, segment */
    CHECK_RC(MPI_Comm_rank(comm, &rank), dist_strerror);
    if (rank == 0) {
        DIR *d = NULL;
        if (atomicfile_mkdirs(dir)) msg[0] = -1;
        else if (!(d = opendir(dir))) msg[0] = err_set("%s: cannot list the trace directory: %s", dir, strerror(errno));
        for (struct dirent *e; d && (e = readdir(d));) {
            int r, s, used = 0;
            if (sscanf(e->d_name, "rank%d.seg%d.nc%n", &r, &s, &used) == 2 && used == (int)strlen(e->d_name) &&
                s + 1 > msg[1])
                msg[1] = s + 1;
        }
        if (d) closedir(d);
    }
    CHECK_RC(MPI_Bcast(msg, 2, MPI_INT, 0, comm), dist_strerror);
    if (msg[0] && rank != 0) return err_set("%s: rank 0 could not prepare the trace directory", dir);
    *segment = msg[1];
    return msg[0];
}

int tracer_open(tracer_t *t, const config_t *cfg, const gpt_t *m, const shard_t *train, int tokenizer,
                const shard_t *probe_shard, const char *probe_path, const char *run_dir, int rank, int world_size,
                int64_t start_step, int argc, char **argv)
{
    memset(t, 0, sizeof *t);
    t->on = cfg->trace_interval > 0;
    if (!t->on) return 0;
    t->spectrum_on = strcmp(cfg->trace_spectrum, "off") != 0;
    t->interval = cfg->trace_interval;
    t->log_spaced = cfg->trace_log_spaced;
    t->max_steps = cfg->max_steps;
    t->full_every = cfg->trace_full_every;
    t->ordinal = tracer_ordinal(start_step, cfg->max_steps, cfg->trace_interval, cfg->trace_log_spaced);
    int rc = 0;
    uint64_t *counts = load_counts(cfg, train, m->d.V, &rc);
    if (dist_agree(rc)) return -1;
    rc = probe_select(&t->probe, probe_shard, cfg->trace_probe_windows, cfg->trace_probe_groups, cfg->seed, rank,
                      world_size, m->d.T);
    t->have_probe = rc == 0;
    if (rc) err_prefix("%s", probe_path);
    if (dist_agree(rc)) {
        free(counts);
        return -1;
    }
    signals_opts_t opt = {cfg->trace_lens, cfg->trace_local, cfg->trace_lens_stride, cfg->trace_n_sv};
    signals_share_t share = {t->probe.n_slots, t->probe.n_genre, (int)t->probe.n * m->d.T};
    signals_create(&t->sig, &m->d, m->B, counts, &opt, &share);
    signals_count(&t->sig, t->probe.inputs, t->probe.cats, t->probe.n);
    t->have_sig = 1;
    free(counts);
    CHECK_RC(MPI_Comm_dup(MPI_COMM_WORLD, &t->comm), dist_strerror);
    t->have_comm = 1;
    if (t->spectrum_on) {
        spectrum_create(&t->sp, t->comm, m->d.C, share.rows, cfg->trace_n_sv,
                        strcmp(cfg->trace_spectrum, "gram") ? SPECTRUM_SCALAPACK : SPECTRUM_GRAM);
        t->have_sp = 1;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/trace", run_dir);
    int segment;
    if (tracer_segment(dir, MPI_COMM_WORLD, &segment)) return -1;
    char *command = runlog_command_line(argc, argv), *text = config_string(cfg);
    tracewrite_meta_t meta = {.dir = dir, .segment = segment, .rank = rank, .world_size = world_size,
                          .start_step = start_step, .sync_every = cfg->trace_sync_every, .interval = cfg->trace_interval,
                          .log_spaced = cfg->trace_log_spaced, .full_every = cfg->trace_full_every, .run_name = cfg->name, .seed = cfg->seed,
                          .config_text = text, .command = command, .probe_path = probe_path};
    tracer_params(meta.param, cfg, &m->d, world_size, tokenizer);
    rc = tracewrite_open(&t->file, &meta, &t->sig, &t->probe);
    t->have_file = rc == 0;
    free(command);
    free(text);
    if (!rc) err_test_kill("trace-opened");
    return dist_agree(rc);
}

int tracer_is_step(const tracer_t *t, int64_t step)
{
    return t->on && tracer_due(step, t->max_steps, t->interval, t->log_spaced);
}

void tracer_measure(const probe_t *p, signals_t *sig, spectrum_t *sp, MPI_Comm comm, gpt_t *m, int full)
{
    int T = p->T, *slot = err_calloc((size_t)m->B, sizeof *slot);
    signals_begin(sig, m);
    for (int64_t i = 0; i < p->n; i += m->B) {
        int b = p->n - i < m->B ? (int)(p->n - i) : m->B;
        size_t at = (size_t)i * T;
        gpt_forward(m, p->inputs + at, p->targets + at, b, T);
        gpt_backward_acts(m, 1.0f);
        for (int j = 0; j < b; j++) slot[j] = p->slot[i + j];
        signals_add(sig, m, 1.0f, slot, full ? p->cats + at : NULL); /* no genres: no per-genre sums */
    }
    free(slot);
    signals_end(sig);
    if (!full) return;
    if (sp) signals_spectrum(sig, sp);
    signals_freq_rho(sig, comm, p->slot_group, p->groups);
}

int tracer_trace(tracer_t *t, gpt_t *m, const tracewrite_rec_t *rec)
{
    int full = tracer_full(t->ordinal++, rec->step, t->max_steps, t->full_every);
    tracer_measure(&t->probe, &t->sig, t->spectrum_on ? &t->sp : NULL, t->comm, m, full);
    *(full ? &t->n_full : &t->n_thin) += 1;
    tracewrite_rec_t r = *rec;
    r.thin = !full;
    return tracewrite_record(&t->file, &r, &t->sig);
}

int tracer_sync(tracer_t *t) { return t->have_file ? tracewrite_sync(&t->file) : 0; }

void tracer_close(tracer_t *t)
{
    /* a run that ends normally has synced its trace already (trainer_run); after a failed write, closing can
     * only fail again, and the reason has been reported */
    if (t->have_file) (void)tracewrite_close(&t->file);
    if (t->have_sp) spectrum_destroy(&t->sp);
    if (t->have_comm) CHECK_RC(MPI_Comm_free(&t->comm), dist_strerror);
    if (t->have_sig) signals_destroy(&t->sig);
    if (t->have_probe) probe_free(&t->probe);
    memset(t, 0, sizeof *t);
}
