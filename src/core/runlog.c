#include "core/runlog.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"

#ifndef IL_GIT_COMMIT
#define IL_GIT_COMMIT "unknown"
#endif

const char *runlog_git_commit(void) { return IL_GIT_COMMIT; }

static FILE *open_append(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "a");
    if (!f) err_set("%s: cannot open for appending: %s", path, strerror(errno));
    return f;
}

/* fflush, remembering the first failure for runlog_status */
static void flush(runlog_t *r, FILE *f, const char *name)
{
    if (fflush(f) == 0 && !ferror(f)) return;
    if (!r->failed[0]) {
        snprintf(r->failed, sizeof r->failed, "%s", name);
        r->failed_errno = errno;
    }
    clearerr(f);
}

int runlog_status(const runlog_t *r)
{
    if (!r->failed[0]) return 0;
    return err_set("%s/%s: write failed: %s", r->dir, r->failed, strerror(r->failed_errno));
}

int runlog_progress_mode(void)
{
    const char *force = getenv("IL_PROGRESS");
    if (force && *force) {
        if (!strcmp(force, "0") || !strcmp(force, "1")) return *force == '1';
        return err_set("IL_PROGRESS=%s: expected 0 (plain timestamped lines) or 1 (a progress line)", force);
    }
    /* Under mpirun, rank 0's stdout is often a pty even when the job's output goes to a file, so isatty
     * alone would redraw a progress line into a batch log. */
    if (getenv("SLURM_JOB_ID") && !getenv("SLURM_PTY_PORT")) return 0;
    return isatty(STDOUT_FILENO);
}

int runlog_term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *columns = getenv("COLUMNS");
    if (columns && *columns) {
        char *end;
        long v = strtol(columns, &end, 10);
        if (!*end && v > 0 && v <= 100000) return (int)v;
    }
    return 80;
}

int runlog_open(runlog_t *r, const char *dir)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    if ((r->progress = runlog_progress_mode()) < 0) return -1;
    if (!(r->log = open_append(dir, "log.txt"))) return -1;
    if (!(r->metrics = open_append(dir, "metrics.jsonl"))) {
        fclose(r->log);
        return -1;
    }
    return 0;
}

void runlog_close(runlog_t *r)
{
    if (r->progress_up) fputc('\n', stdout);
    if (r->log) fclose(r->log);
    if (r->metrics) fclose(r->metrics);
    memset(r, 0, sizeof *r);
}

static void timestamp(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void end_progress(runlog_t *r)
{
    if (r->progress_up) fputc('\n', stdout);
    r->progress_up = 0;
}

/* One event: `file` into log.txt and `screen` (NULL: nothing) on stdout, under the same timestamp, which a
 * plain stdout shows too, so that a batch log says when each line happened, as log.txt does. */
static void say(runlog_t *r, const char *screen, const char *file)
{
    char ts[32];
    timestamp(ts, sizeof ts);
    if (screen) {
        end_progress(r);
        if (r->progress) printf("%s\n", screen);
        else printf("%s %s\n", ts, screen);
        fflush(stdout);
    }
    fprintf(r->log, "%s %s\n", ts, file);
    flush(r, r->log, "log.txt");
}

void runlog_printf(runlog_t *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    say(r, line, line);
}

/* JSON has no NaN or infinity; a diverged loss is recorded as null rather than as invalid JSON. */
static void json_num(FILE *f, const char *key, double v)
{
    if (isfinite(v)) fprintf(f, ",\"%s\":%.9g", key, v);
    else fprintf(f, ",\"%s\":null", key);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void format_eta(char *buf, size_t n, double seconds)
{
    if (!(seconds >= 0 && seconds < 1e9)) {
        snprintf(buf, n, "?");
        return;
    }
    long s = (long)seconds;
    if (s >= 3600) snprintf(buf, n, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
}

/* The ETA's part of the steps is the steps left times the mean wall time per step of this launch so far,
 * trace steps' time left out (runlog_eta_trace). A step's time depends on what comes with it: validation
 * every eval.interval steps, checkpoints. They recur, so only a mean over a span longer than their intervals
 * gives them their true share: the cumulative mean does, and settles as the run goes on. An exponentially
 * weighted mean short enough to follow a change of the machine's load would jump after every validation,
 * as the estimate from the last step alone did; the runs are of fixed work on a node of their own, where
 * the load hardly changes. */
double runlog_eta(runlog_eta_t *e, double step_seconds, int64_t steps_left)
{
    e->seconds += step_seconds;
    e->steps++;
    return runlog_eta_left(e, steps_left, 0);
}

/* Trace steps do not recur at a fixed interval: the schedule's are dense at the start (log-spaced) and
 * sparse later, so a mean over the steps so far would count the early ones at the rate of the start. Their
 * cost is estimated apart, per trace step, and multiplied by the trace steps the schedule has left. */
void runlog_eta_trace(runlog_eta_t *e, double seconds)
{
    e->trace_seconds += seconds;
    e->traces++;
}

double runlog_eta_left(const runlog_eta_t *e, int64_t steps_left, int64_t traces_left)
{
    if (e->steps == 0) return NAN;
    double step = e->seconds / (double)e->steps, trace = e->traces ? e->trace_seconds / (double)e->traces : step;
    return step * (double)steps_left + trace * (double)traces_left;
}

enum { F_STEP, F_LOSS, F_LR, F_NORM, F_TOKS, F_ETA, F_N, F_LEN = 48 };

/* The kept fields joined with " | " into out, of at least F_N * (F_LEN + 3) bytes; returns the length. */
static int join(char *out, char fields[][F_LEN], const int *keep)
{
    int len = 0;
    out[0] = '\0';
    for (int i = 0; i < F_N; i++)
        if (keep[i]) len += snprintf(out + len, F_LEN + 3, "%s%s", len ? " | " : "", fields[i]);
    return len;
}

int runlog_format_step(char *buf, size_t n, const runlog_step_t *s, double eta_seconds, int width)
{
    static const int least_first[] = {F_NORM, F_LR, F_TOKS, F_ETA, F_LOSS};
    char f[F_N][F_LEN], eta[32], line[F_N * (F_LEN + 3)];
    format_eta(eta, sizeof eta, eta_seconds);
    snprintf(f[F_STEP], F_LEN, "step %lld/%lld%s", (long long)s->step, (long long)s->max_steps,
             s->tracing ? " tracing" : "");
    snprintf(f[F_LOSS], F_LEN, "loss %.4f", s->loss);
    snprintf(f[F_LR], F_LEN, "lr %.2e", s->lr);
    snprintf(f[F_NORM], F_LEN, "grad norm %.3f", s->grad_norm);
    snprintf(f[F_TOKS], F_LEN, "%.0f tok/s", s->tokens_per_s);
    snprintf(f[F_ETA], F_LEN, "ETA %s", eta);
    int keep[F_N] = {1, 1, 1, 1, 1, 1}, len = join(line, f, keep);
    for (size_t i = 0; width > 0 && len > width - 1 && i < sizeof least_first / sizeof *least_first; i++) {
        keep[least_first[i]] = 0;
        len = join(line, f, keep);
    }
    if (width > 0 && len > width - 1) len = width > 1 ? width - 1 : 0; /* the step alone is too long: cut */
    snprintf(buf, n, "%.*s", len, line);
    return len;
}

static double eta_of(const runlog_t *r)
{
    return runlog_eta_left(&r->eta, r->last.max_steps - r->last.step, r->last.traces_left);
}

/* The progress line of the last step, on a terminal: drawn over the one before it. */
static void draw(runlog_t *r, double now)
{
    if (!r->progress) return;
    char line[256];
    runlog_format_step(line, sizeof line, &r->last, eta_of(r), runlog_term_width());
    printf("\r%s\033[K", line);
    fflush(stdout);
    r->progress_up = 1;
    r->drawn_at = now;
}

void runlog_step(runlog_t *r, const runlog_step_t *s, int print)
{
    fprintf(r->metrics, "{\"kind\":\"train\",\"step\":%lld", (long long)s->step);
    json_num(r->metrics, "loss", s->loss);
    json_num(r->metrics, "lr", s->lr);
    json_num(r->metrics, "grad_norm", s->grad_norm);
    json_num(r->metrics, "tokens_per_s", s->tokens_per_s);
    json_num(r->metrics, "step_ms", s->step_ms);
    fputs("}\n", r->metrics);
    flush(r, r->metrics, "metrics.jsonl");
    /* from one call to the next: the step with its validation and checkpoint, less the time traced (which
     * runlog_trace_end counts apart); the first call has only the step's own time */
    double t = clock_seconds();
    runlog_eta(&r->eta, r->last_step_at > 0 ? t - r->last_step_at - r->traced : s->step_ms / 1e3, 0);
    r->last_step_at = t, r->traced = 0, r->last = *s;
    if (print) {
        char line[256];
        runlog_format_step(line, sizeof line, s, eta_of(r), 0);
        say(r, r->progress ? NULL : line, line);
    }
    if (print || t - r->drawn_at >= RUNLOG_REDRAW_S) draw(r, t);
}

void runlog_trace_begin(runlog_t *r, int64_t step)
{
    double t = clock_seconds();
    r->trace_at = t;
    if (r->last.step != step || step == 0) return;
    r->last.tracing = 1;
    draw(r, t);
}

void runlog_trace_end(runlog_t *r)
{
    double t = clock_seconds();
    runlog_eta_trace(&r->eta, t - r->trace_at);
    r->traced += t - r->trace_at;
    if (!r->last.tracing) return;
    r->last.tracing = 0;
    if (r->last.traces_left > 0) r->last.traces_left--;
    draw(r, t);
}

void runlog_val(runlog_t *r, int64_t step, double loss, int n_cats, const char *const *cat_names,
                const double *cat_loss)
{
    fprintf(r->metrics, "{\"kind\":\"val\",\"step\":%lld", (long long)step);
    json_num(r->metrics, "val_loss", loss);
    fputs(",\"by_category\":{", r->metrics);
    char screen[64], line[2048];
    snprintf(screen, sizeof screen, "step %lld | val loss %.4f", (long long)step, loss);
    int len = snprintf(line, sizeof line, "%s", screen);
    for (int c = 0, first = 1; c < n_cats; c++) {
        if (isnan(cat_loss[c])) continue; /* category absent from the scored windows */
        fprintf(r->metrics, "%s", first ? "" : ",");
        first = 0;
        json_str(r->metrics, cat_names[c]);
        fprintf(r->metrics, ":%.9g", cat_loss[c]);
        if (n_cats > 1 && len < (int)sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, "%s%s %.3f", c ? ", " : " | by category: ",
                            cat_names[c], cat_loss[c]);
    }
    fputs("}}\n", r->metrics);
    flush(r, r->metrics, "metrics.jsonl");
    say(r, screen, line);
}

char *runlog_command_line(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = err_calloc(n, 1);
    for (int i = 0; i < argc; i++) strcat(strcat(s, i ? " " : ""), argv[i]);
    return s;
}

int runlog_provenance(const char *dir, uint64_t seed, int world_size, int64_t start_step, const runlog_data_t *data,
                      int argc, char **argv)
{
    FILE *f = open_append(dir, "launches.jsonl");
    if (!f) return -1;
    char ts[32], host[256] = "";
    timestamp(ts, sizeof ts);
    gethostname(host, sizeof host - 1);
    fprintf(f, "{\"time\":\"%s\",\"git_commit\":", ts);
    json_str(f, IL_GIT_COMMIT);
    fprintf(f, ",\"seed\":%llu,\"world_size\":%d,\"start_step\":%lld,\"host\":", (unsigned long long)seed, world_size,
            (long long)start_step);
    json_str(f, host);
    fputs(",\"tokenizer\":", f);
    json_str(f, data->tokenizer);
    fprintf(f, ",\"tokenizer_id\":\"%08x\",\"vocab_size\":%d", data->tokenizer_id, data->vocab_size);
    if (data->source) {
        fputs(",\"source\":", f);
        json_str(f, data->source);
    }
    if (data->allreduce) {
        fputs(",\"allreduce\":", f);
        json_str(f, data->allreduce);
        if (isfinite(data->allreduce_ms[0]))
            fprintf(f, ",\"allreduce_ms\":{\"overlap\":%.3f,\"blocking\":%.3f}", data->allreduce_ms[0],
                    data->allreduce_ms[1]);
    }
    static const char *const slurm[] = {"SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
                                        "SLURM_RESTART_COUNT"};
    for (size_t i = 0; i < sizeof slurm / sizeof *slurm; i++) {
        const char *v = getenv(slurm[i]);
        fprintf(f, ",\"%s\":", slurm[i]);
        if (v) json_str(f, v);
        else fputs("null", f);
    }
    fputs(",\"argv\":[", f);
    for (int i = 0; i < argc; i++) {
        if (i) fputc(',', f);
        json_str(f, argv[i]);
    }
    fputs("]}\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? err_set("%s/launches.jsonl: write failed", dir) : 0;
}
