#include "core/runlog.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int runlog_open(runlog_t *r, const char *dir)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->tty = isatty(STDOUT_FILENO);
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

void runlog_printf(runlog_t *r, const char *fmt, ...)
{
    char line[2048], ts[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    end_progress(r);
    printf("%s\n", line);
    fflush(stdout);
    timestamp(ts, sizeof ts);
    fprintf(r->log, "%s %s\n", ts, line);
    flush(r, r->log, "log.txt");
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
    long s = (long)seconds;
    if (s >= 3600) snprintf(buf, n, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
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
    if (!print) return;
    char eta[32];
    format_eta(eta, sizeof eta, (double)(s->max_steps - s->step) * s->step_ms / 1e3);
    char line[256];
    snprintf(line, sizeof line, "step %lld/%lld | loss %.4f | lr %.2e | grad norm %.3f | %.0f tok/s | ETA %s",
             (long long)s->step, (long long)s->max_steps, s->loss, s->lr, s->grad_norm, s->tokens_per_s, eta);
    char ts[32];
    timestamp(ts, sizeof ts);
    fprintf(r->log, "%s %s\n", ts, line);
    flush(r, r->log, "log.txt");
    if (r->tty) {
        printf("\r%s\033[K", line);
        r->progress_up = 1;
    } else {
        printf("%s\n", line);
    }
    fflush(stdout);
}

void runlog_val(runlog_t *r, int64_t step, double loss, int n_cats, const char *const *cat_names,
                const double *cat_loss)
{
    fprintf(r->metrics, "{\"kind\":\"val\",\"step\":%lld", (long long)step);
    json_num(r->metrics, "val_loss", loss);
    fputs(",\"by_category\":{", r->metrics);
    char line[2048];
    int len = snprintf(line, sizeof line, "step %lld | val loss %.4f", (long long)step, loss);
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
    runlog_printf(r, "%s", line);
}

char *runlog_command_line(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = err_calloc(n, 1);
    for (int i = 0; i < argc; i++) strcat(strcat(s, i ? " " : ""), argv[i]);
    return s;
}

int runlog_provenance(const char *dir, uint64_t seed, int world_size, int64_t start_step, int argc, char **argv)
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
