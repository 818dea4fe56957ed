#include "trace/tracer.h"

#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dist.h"
#include "core/err.h"

/* The counts for the frequency buckets, widened to the model's vocabulary (ids the shard never uses
 * count 0). NULL with *rc 0 when there is no sidecar to use. */
static uint64_t *load_counts(const config_t *cfg, const shard_t *train, int V, int *rc)
{
    char path[4200];
    int derived = cfg->counts_path[0] == '\0';
    if (derived) {
        char dir[CONFIG_STR];
        snprintf(dir, sizeof dir, "%s", cfg->train_path);
        snprintf(path, sizeof path, "%s/train.counts", dirname(dir));
        if (access(path, F_OK) != 0) return NULL; /* plain shards without a sidecar: one bucket */
    } else {
        snprintf(path, sizeof path, "%s", cfg->counts_path);
    }
    uint32_t tok, vocab;
    uint64_t *counts;
    if ((*rc = shard_counts_read(path, &tok, &vocab, &counts))) return NULL;
    if (tok != train->tokenizer_id || vocab != train->vocab_size) {
        *rc = err_set("%s: counts of another tokenizer (id %08x, vocab %u) than %s (id %08x, vocab %u)", path, tok,
                      vocab, cfg->train_path, train->tokenizer_id, train->vocab_size);
        free(counts);
        return NULL;
    }
    uint64_t *wide = err_calloc((size_t)V, sizeof *wide);
    memcpy(wide, counts, vocab * sizeof *wide);
    free(counts);
    return wide;
}

static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = err_calloc(n, 1);
    for (int i = 0; i < argc; i++) {
        if (i) strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

int tracer_open(tracer_t *t, const config_t *cfg, const gpt_t *m, const shard_t *train, const char *run_dir,
                int rank, int world_size, int64_t start_step, int argc, char **argv)
{
    memset(t, 0, sizeof *t);
    t->on = cfg->trace_interval > 0;
    if (!t->on) return 0;
    t->spectrum_on = strcmp(cfg->trace_spectrum, "off") != 0;
    t->interval = cfg->trace_interval;
    t->log_spaced = cfg->trace_log_spaced;
    t->max_steps = cfg->max_steps;
    int rc = 0;
    uint64_t *counts = load_counts(cfg, train, m->d.V, &rc);
    if (dist_agree(rc)) return -1;
    signals_opts_t opt = {cfg->trace_lens, cfg->trace_local, cfg->trace_lens_stride, cfg->trace_n_sv};
    signals_create(&t->sig, &m->d, m->B, counts, &opt);
    t->have_sig = 1;
    free(counts);
    if (t->spectrum_on) {
        CHECK_RC(MPI_Comm_dup(MPI_COMM_WORLD, &t->comm), dist_strerror);
        spectrum_create(&t->sp, t->comm, m->d.C, m->B * m->d.T, cfg->trace_n_sv,
                        strcmp(cfg->trace_spectrum, "gram") ? SPECTRUM_SCALAPACK : SPECTRUM_GRAM);
        t->have_sp = 1;
    } else { /* recorded as missing rather than as zeros */
        for (int i = 0; i < (m->d.L + 1) * cfg->trace_n_sv; i++) t->sig.sv[i] = NAN;
        for (int l = 0; l <= m->d.L; l++) t->sig.erank[l] = NAN;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/trace", run_dir);
    int segment;
    if (trace_segment_agree(dir, MPI_COMM_WORLD, &segment)) return -1;
    char *command = join_args(argc, argv);
    trace_info_t info = {dir, segment, rank, world_size, start_step, cfg->trace_sync_every, cfg->trace_interval,
                         cfg->trace_log_spaced, cfg, m, &t->sig, command};
    rc = trace_open(&t->file, &info);
    t->have_file = rc == 0;
    free(command);
    return dist_agree(rc);
}

int tracer_is_step(const tracer_t *t, int64_t step)
{
    return t->on && trace_is_step(step, t->max_steps, t->interval, t->log_spaced);
}

void tracer_capture(tracer_t *t, const gpt_t *m, float loss_scale)
{
    signals_compute(&t->sig, m, loss_scale);
    if (t->spectrum_on) signals_spectrum(&t->sig, &t->sp, m);
}

void tracer_write(tracer_t *t, const trace_record_t *rec) { trace_write(&t->file, rec, &t->sig); }

void tracer_sync(tracer_t *t)
{
    if (t->have_file) trace_sync(&t->file);
}

void tracer_close(tracer_t *t)
{
    if (t->have_file) trace_close(&t->file);
    if (t->have_sp) {
        spectrum_destroy(&t->sp);
        MPI_Comm_free(&t->comm);
    }
    if (t->have_sig) signals_destroy(&t->sig);
    memset(t, 0, sizeof *t);
}
