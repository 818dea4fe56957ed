#include "sweep/watch.h"

#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/metrics.h"
#include "core/runlog.h"
#include "sweep/status.h"
#include "sweep/sweepdir.h"

/* The sparkline's points, and the most train records averaged into one: the last 128 records, so that the
 * trend is the loss's, not one batch's noise. */
enum { SPARK = 16, PER_POINT = 8 };

static volatile sig_atomic_t stop, resized;

static void on_stop(int sig) { stop = sig; }
static void on_resize(int sig) { resized = sig; }

int watch_sparkline(char *buf, size_t cap, const double *v, int n, int utf8)
{
    static const char *const blocks[8] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                          "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char ascii[] = "_.-~=+*#";
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
    size_t len = 0;
    int cols = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        /* a flat line sits in the middle */
        int level = !isfinite(v[i]) ? -1 : hi > lo ? (int)lround((v[i] - lo) / (hi - lo) * 7) : 3;
        const char *c = level < 0 ? " " : utf8 ? blocks[level] : (char[]){ascii[level], '\0'};
        size_t k = strlen(c);
        if (len + k >= cap) break;
        memcpy(buf + len, c, k + 1);
        len += k, cols++;
    }
    return cols;
}

/* A run's sparkline, and the size and time of the metrics.jsonl it was drawn from: a file that has not
 * changed (every run that has ended) is not read again. */
typedef struct {
    off_t size;
    struct timespec mtime;
    char spark[SPARK * 4 + 1];
    int cols;
} trend_t;

/* The sparkline of a run's training loss: its last records, averaged up to PER_POINT to a point. */
static void trend(trend_t *t, const char *run_dir, int utf8)
{
    char path[PATH_MAX + 400];
    struct stat st = {0};
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    if (stat(path, &st) == 0 && st.st_size == t->size && st.st_mtim.tv_sec == t->mtime.tv_sec &&
        st.st_mtim.tv_nsec == t->mtime.tv_nsec)
        return;
    t->size = st.st_size, t->mtime = st.st_mtim;
    t->spark[0] = '\0', t->cols = 0;
    metrics_curves_t c;
    if (metrics_curves(&c, run_dir) <= 0) return;
    int per = (c.n + SPARK - 1) / SPARK;
    per = per < 1 ? 1 : per > PER_POINT ? PER_POINT : per;
    int points = (c.n + per - 1) / per;
    points = points > SPARK ? SPARK : points;
    int start = c.n - points * per;
    double mean[SPARK];
    for (int p = 0; p < points; p++) {
        double sum = 0;
        int k = 0;
        for (int j = start + p * per; j < start + (p + 1) * per; j++)
            if (j >= 0) sum += c.loss[j], k++;
        mean[p] = k ? sum / k : NAN;
    }
    metrics_curves_free(&c);
    t->cols = watch_sparkline(t->spark, sizeof t->spark, mean, points, utf8);
}

/* The terminal's rows: TIOCGWINSZ on stdout, else $LINES, else 24. */
static int term_rows(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
    const char *lines = getenv("LINES");
    long v = lines ? strtol(lines, NULL, 10) : 0;
    return v > 0 && v <= 100000 ? (int)v : 24;
}

/* Prints s cut to width - 1 columns (a UTF-8 character is one column), then clears the rest of the line;
 * a line but the frame's first starts on a new one (the last ends without a newline, which would scroll a
 * screen it fills). */
static void put_line(FILE *f, const char *s, int width, int first)
{
    if (!first) fputc('\n', f);
    int cols = 0;
    const char *p = s;
    for (; *p; p++) {
        if (((unsigned char)*p & 0xc0) == 0x80) continue; /* a continuation byte */
        if (cols == width - 1) break;
        cols++;
    }
    fprintf(f, "%.*s\033[K", (int)(p - s), s);
}

/* The columns shown, from il-sweep status's table, and where the trend goes (before SC_VAL). */
static const int shown[] = {SC_IDX, SC_STATE, SC_STEP, SC_LOSS, SC_VAL, SC_TPS, SC_RUN};
enum { N_SHOWN = sizeof shown / sizeof *shown, TREND_BEFORE = 4 };

static int ended(status_state_t s) { return s == ST_DONE || s == ST_FAILED || s == ST_PREEMPTED; }

/* One frame: a title, the header, a row per run that fits (then "... N more"), and the counts. Returns
 * whether every run of the sweep has ended. */
static int frame(FILE *f, const char *dir, const sweepdir_t *w, const status_run_t *rs, trend_t *trends,
                 unsigned want, double seconds, int utf8)
{
    int n = sweepdir_n_runs(w), width = runlog_term_width(), rows = term_rows(), k = 0, all_ended = 1;
    int count[ST_N] = {0}, *idx = err_calloc((size_t)n + 1, sizeof *idx);
    for (int i = 0; i < n; i++) {
        count[rs[i].state]++;
        all_ended &= ended(rs[i].state);
        if (want & (1u << rs[i].state)) idx[k++] = i;
    }
    /* title, header and counts take 3 rows; a cut list says so in one more */
    int fit = rows - 3 < 1 ? 1 : rows - 3;
    int show = k <= fit ? k : fit - 1 < 1 ? 1 : fit - 1;
    status_cell_t(*cells)[SC_N] = err_calloc((size_t)show + 1, sizeof *cells);
    int cw[SC_N] = {0};
    for (int c = 0; c < SC_N; c++) {
        snprintf(cells[0][c], sizeof cells[0][c], "%s", status_col_names[c]);
        cw[c] = (int)strlen(status_col_names[c]);
    }
    for (int j = 0; j < show; j++) {
        char run_dir[PATH_MAX + 300];
        status_row(cells[j + 1], w, idx[j], &rs[idx[j]]);
        snprintf(run_dir, sizeof run_dir, "%s/runs/%s", w->dir, sweepdir_run_name(w, idx[j]));
        trend(&trends[idx[j]], run_dir, utf8);
        for (int c = 0; c < SC_N; c++)
            if ((int)strlen(cells[j + 1][c]) > cw[c]) cw[c] = (int)strlen(cells[j + 1][c]);
    }
    char line[4096], when[16];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
    snprintf(line, sizeof line, "il-sweep status %s: %s, every %gs (Ctrl-C stops)", dir, when, seconds);
    put_line(f, line, width, 1);
    for (int j = 0; j <= show; j++) {
        int len = 0;
        for (int s = 0; s < N_SHOWN && len < (int)sizeof line; s++) {
            int c = shown[s];
            if (s == TREND_BEFORE) { /* padded by columns, not bytes: a block is three bytes wide */
                const trend_t *t = j ? &trends[idx[j - 1]] : &(trend_t){.spark = "trend", .cols = 5};
                len += snprintf(line + len, sizeof line - (size_t)len, "%s%*s ", t->spark, SPARK - t->cols, "");
            }
            if (len < (int)sizeof line)
                len += snprintf(line + len, sizeof line - (size_t)len, status_col_right[c] ? "%*s " : "%-*s ",
                                c == SC_RUN ? 0 : cw[c], cells[j][c]);
        }
        put_line(f, line, width, 0);
    }
    if (show < k) {
        snprintf(line, sizeof line, "... %d more", k - show);
        put_line(f, line, width, 0);
    }
    int len = snprintf(line, sizeof line, "# %d run(s):", n);
    for (int s = 0; s < ST_N; s++)
        if (count[s]) len += snprintf(line + len, sizeof line - (size_t)len, " %d %s", count[s], status_names[s]);
    if (all_ended) snprintf(line + len, sizeof line - (size_t)len, "; all have ended");
    put_line(f, line, width, 0);
    fputs("\033[J", f); /* what an earlier, longer frame left below */
    free(cells);
    free(idx);
    return all_ended;
}

int watch_sweep(const char *dir, unsigned want, double seconds)
{
    sweepdir_t w;
    if (sweepdir_open(&w, dir)) {
        sweepdir_close(&w);
        return SWEEPDIR_EINPUT;
    }
    setlocale(LC_CTYPE, "");
    int utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop; /* no SA_RESTART: the wait below ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_resize;
    sigaction(SIGWINCH, &sa, NULL);
    status_run_t *rs = err_calloc((size_t)sweepdir_n_runs(&w), sizeof *rs);
    trend_t *trends = err_calloc((size_t)sweepdir_n_runs(&w), sizeof *trends);
    for (int i = 0; i < sweepdir_n_runs(&w); i++) trends[i].size = -1; /* never drawn */
    fputs("\033[?25l\033[H\033[2J", stdout); /* the cursor hidden while the frames are drawn */
    while (!stop) {
        status_collect_details(&w, rs);
        fputs("\033[H", stdout);
        int done = frame(stdout, dir, &w, rs, trends, want, seconds, utf8);
        fflush(stdout);
        if (done) break;
        /* until the next frame, or at once on Ctrl-C or a new terminal size */
        const struct timespec tick = {0, 50000000};
        for (double t = 0; t < seconds && !stop && !resized; t += 0.05) nanosleep(&tick, NULL);
        resized = 0;
    }
    fputs("\033[?25h\n", stdout);
    fflush(stdout);
    free(trends);
    free(rs);
    sweepdir_close(&w);
    return 0;
}
