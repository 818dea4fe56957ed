#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/runlog.h"
#include "innerloop/schema.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

/* A step whose full line is 90 columns: every width below that must drop something. */
static const runlog_step_t wide = {12345, 100000, 3.1234f, 3e-4f, 0.512, 123456, 250, 0, 0};
static const double wide_eta = 5000; /* 1h23m */

/* The fields in the order they are kept: a field on the line means every one before it is there too. */
static const char *const by_importance[] = {"step 12345/100000", "loss 3.1234", "ETA 1h23m", "123456 tok/s",
                                            "lr 3.00e-04", "grad norm 0.512"};
enum { N_FIELDS = sizeof by_importance / sizeof *by_importance };

static int kept(const char *line, int *has)
{
    int n = 0;
    for (int i = 0; i < N_FIELDS; i++) n += has[i] = strstr(line, by_importance[i]) != NULL;
    return n;
}

static void test_format_widths(void **state)
{
    (void)state;
    char full[256], line[256];
    int has[N_FIELDS];
    int len = runlog_format_step(full, sizeof full, &wide, wide_eta, 0);
    assert_int_equal(len, (int)strlen(full));
    assert_string_equal(full, "step 12345/100000 | loss 3.1234 | lr 3.00e-04 | grad norm 0.512 | 123456 tok/s | "
                              "ETA 1h23m");
    assert_int_equal(kept(full, has), N_FIELDS);
    /* the widths of the issue, with what each keeps */
    const struct { int width, fields; } cases[] = {{40, 2}, {60, 4}, {80, 5}, {200, 6}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        len = runlog_format_step(line, sizeof line, &wide, wide_eta, cases[c].width);
        assert_int_equal(len, (int)strlen(line));
        assert_true(len <= cases[c].width - 1);
        if (kept(line, has) != cases[c].fields) fail_msg("width %d: \"%s\"", cases[c].width, line);
    }
    /* every width: never longer than width - 1, the least important fields gone first, never a field cut
     * in the middle unless the step alone does not fit */
    for (int w = 1; w <= 120; w++) {
        len = runlog_format_step(line, sizeof line, &wide, wide_eta, w);
        if (len > w - 1 || len != (int)strlen(line)) fail_msg("width %d: %d columns: \"%s\"", w, len, line);
        int n = kept(line, has);
        for (int i = 0; i < N_FIELDS; i++)
            if (has[i] != (i < n)) fail_msg("width %d: \"%s\" keeps a less important field", w, line);
        if (n == 0) assert_memory_equal(line, full, (size_t)len); /* cut: a prefix of the whole */
        else if (n < N_FIELDS && len + (int)strlen(" | ") + (int)strlen(by_importance[n]) <= w - 1)
            fail_msg("width %d: \"%s\" dropped %s, which fits", w, line, by_importance[n]);
    }
    /* a buffer too short still holds a terminated prefix, and the length is the line's */
    char small[8];
    assert_int_equal(runlog_format_step(small, sizeof small, &wide, wide_eta, 0), (int)strlen(full));
    assert_string_equal(small, "step 12");
}

/* Steps of 1 s with a validation of 2 s more every 10th, over 100 steps: the true time per step is 1.2 s. */
static double step_time(int k) { return k % 10 == 0 ? 3.0 : 1.0; }

static void test_eta_smoothing(void **state)
{
    (void)state;
    enum { N = 100 };
    runlog_eta_t e = {0};
    double sum = 0;
    int naive_off = 0;
    for (int k = 1; k <= N; k++) {
        sum += step_time(k);
        double eta = runlog_eta(&e, step_time(k), N - k);
        assert_near(eta, sum / k * (N - k), 1e-9 * (N - k)); /* the cumulative mean of the step times */
        if (k >= 20 && N - k > 0) {
            double truth = 1.2 * (N - k);
            if (fabs(eta / truth - 1) > 0.1)
                fail_msg("step %d: ETA %.1f s, the remaining steps take %.1f s", k, eta, truth);
            /* the last step's time alone, as the ETA was computed before, is off by far more */
            naive_off += fabs(step_time(k) * (N - k) / truth - 1) > 0.1;
        }
    }
    assert_int_equal(naive_off, 80); /* the data can tell a smoothed ETA from an unsmoothed one */
    assert_int_equal(e.steps, N);
    /* the sequence of the issue: 25 s, 47 s, 20 s left from the last step alone */
    runlog_eta_t f = {0};
    const double t[] = {0.25, 0.47, 0.20};
    double a = runlog_eta(&f, t[0], 100), b = runlog_eta(&f, t[1], 100), c = runlog_eta(&f, t[2], 100);
    assert_near(a, 25, 1e-9);
    assert_near(b, 36, 1e-9);
    assert_near(c, 30.666666666666668, 1e-9);
}

/* A run of 1000 steps of 0.1 s each, traced on the default schedule (every 50th step and log-spaced ones,
 * tracer_due) at 2 s a trace step: after the first trace step, the ETA from the mean step and trace times
 * and the trace steps the schedule has left is the time the rest of the run takes, summed here step by step;
 * the mean over every step so far, traces included, is far off while the early dense traces dominate. */
static void test_eta_traces(void **state)
{
    (void)state;
    enum { N = 1000, INTERVAL = 50 };
    const double step_s = 0.1, trace_s = 2;
    runlog_eta_t e = {0};
    double all = 0;
    int mean_off = 0;
    runlog_eta_trace(&e, trace_s); /* step 0, the initialisation */
    for (int k = 1; k < N; k++) {
        runlog_eta(&e, step_s, 0);
        all += step_s;
        int64_t left = 0;
        double truth = 0;
        for (int j = k + 1; j <= N; j++) truth += step_s + (tracer_due(j, N, INTERVAL, 1) ? trace_s : 0);
        for (int j = k; j <= N; j++) left += tracer_due(j, N, INTERVAL, 1);
        if (tracer_due(k, N, INTERVAL, 1)) truth += trace_s; /* this step's trace is still to come */
        assert_near(runlog_eta_left(&e, N - k, left), truth, 1e-9 * truth);
        mean_off += fabs((all + trace_s) / k * (N - k) / truth - 1) > 0.1; /* every step's mean, traces in it */
        if (tracer_due(k, N, INTERVAL, 1)) {
            runlog_eta_trace(&e, trace_s);
            all += trace_s;
        }
    }
    assert_true(mean_off > N / 2);
    /* before a step was measured the ETA is not known, and it says so */
    runlog_eta_t none = {0};
    assert_true(isnan(runlog_eta_left(&none, 10, 1)));
    char line[128];
    runlog_format_step(line, sizeof line, &wide, NAN, 0);
    if (!strstr(line, "ETA ?")) fail_msg("an unknown ETA reads \"%s\"", line);
}

static void test_progress_mode(void **state)
{
    (void)state;
    unsetenv("SLURM_PTY_PORT");
    setenv("SLURM_JOB_ID", "17", 1);
    setenv("IL_PROGRESS", "1", 1);
    assert_int_equal(runlog_progress_mode(), 1); /* forced, even in a batch step */
    setenv("IL_PROGRESS", "0", 1);
    assert_int_equal(runlog_progress_mode(), 0);
    setenv("IL_PROGRESS", "", 1);
    assert_int_equal(runlog_progress_mode(), 0); /* a Slurm batch step, whatever stdout is */
    setenv("IL_PROGRESS", "yes", 1);
    assert_int_equal(runlog_progress_mode(), -1);
    assert_msg_has("IL_PROGRESS=yes");
    unsetenv("IL_PROGRESS");
    setenv("SLURM_PTY_PORT", "4242", 1); /* srun --pty: interactive, a terminal decides */
    assert_int_equal(runlog_progress_mode(), isatty(STDOUT_FILENO));
    unsetenv("SLURM_PTY_PORT");
    unsetenv("SLURM_JOB_ID");
    assert_int_equal(runlog_progress_mode(), isatty(STDOUT_FILENO));
    if (isatty(STDOUT_FILENO)) return; /* the width is the terminal's */
    setenv("COLUMNS", "123", 1);
    assert_int_equal(runlog_term_width(), 123);
    setenv("COLUMNS", "wide", 1);
    assert_int_equal(runlog_term_width(), 80);
    unsetenv("COLUMNS");
    assert_int_equal(runlog_term_width(), 80);
}

/* The file's text, NUL-terminated (malloc'd). */
static char *slurp(const char *path)
{
    uint8_t *bytes;
    size_t n;
    assert_int_equal(bytes_read_file(path, &bytes, &n), 0);
    char *s = calloc(n + 1, 1);
    assert_non_null(s);
    memcpy(s, bytes, n);
    free(bytes);
    return s;
}

/* A line, a step and a validation. */
static void events(runlog_t *r)
{
    static const char *const cats[] = {"news", "fiction"};
    const double cat_loss[] = {3.5, 4.5};
    runlog_printf(r, "hello %d", 7);
    runlog_step(r, &wide, 1);
    runlog_val(r, 12345, 4.0, 2, cats, cat_loss);
}

/* Runs calls(r) with stdout going to <dir>/name, and returns what it printed (malloc'd). */
static char *captured(const char *name, runlog_t *r, void (*calls)(runlog_t *))
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_non_null(freopen(path, "w", stdout));
    calls(r);
    fflush(stdout);
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    return slurp(path);
}

/* Every line matches the regular expression. */
static void assert_lines(const char *text, const char *re)
{
    regex_t rx;
    assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
    char *copy = strdup(text), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (regexec(&rx, l, 0, NULL, 0)) fail_msg("line \"%s\" does not match %s", l, re);
    free(copy);
    regfree(&rx);
}

static void test_output(void **state)
{
    (void)state;
    static const char *const stamp = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ";
    runlog_t r;
    setenv("IL_PROGRESS", "0", 1);
    assert_int_equal(runlog_open(&r, dir), 0);
    char *out = captured("plain.txt", &r, events);
    runlog_close(&r);
    /* a batch log: plain lines with log.txt's timestamps; per-category losses in the files only */
    assert_lines(out, stamp);
    assert_non_null(strstr(out, "Z hello 7\n"));
    assert_non_null(strstr(out, "Z step 12345 | val loss 4.0000\n"));
    assert_non_null(strstr(out, "grad norm 0.512")); /* no width to fit */
    assert_null(strstr(out, "news"));
    free(out);
    char log[4200];
    snprintf(log, sizeof log, "%s/log.txt", dir);
    char *s = slurp(log);
    assert_lines(s, stamp);
    assert_non_null(strstr(s, "step 12345 | val loss 4.0000 | by category: news 3.500, fiction 4.500\n"));
    free(s);

    /* a terminal: the step redrawn in place within the width, the other lines without timestamps */
    setenv("IL_PROGRESS", "1", 1);
    setenv("COLUMNS", "60", 1);
    assert_int_equal(runlog_open(&r, dir), 0);
    out = captured("progress.txt", &r, events);
    runlog_close(&r);
    unsetenv("IL_PROGRESS");
    unsetenv("COLUMNS");
    if (!isatty(STDOUT_FILENO))
        assert_string_equal(out, "hello 7\n\rstep 12345/100000 | loss 3.1234 | 123456 tok/s | ETA 6h05m\033[K\n"
                                 "step 12345 | val loss 4.0000\n");
    free(out);
    setenv("IL_PROGRESS", "2", 1);
    assert_int_equal(runlog_open(&r, dir), -1);
    assert_msg_has("IL_PROGRESS=2");
    unsetenv("IL_PROGRESS");
}

/* 12 steps 0.1 s or more apart, none of them a log line's */
static void quiet_steps(runlog_t *r)
{
    const struct timespec tenth = {0, 100000000};
    for (int k = 1; k <= 12; k++) {
        runlog_step_t s = wide;
        s.step = k;
        runlog_step(r, &s, 0);
        nanosleep(&tenth, NULL);
    }
}

/* Between log lines the progress line is redrawn on time: the first step, and a later one once a second
 * has passed (the steps span 1.1 s at least), but not every step. */
static void test_redraw_on_time(void **state)
{
    (void)state;
    runlog_t r;
    setenv("IL_PROGRESS", "1", 1);
    assert_int_equal(runlog_open(&r, dir), 0);
    char *out = captured("quiet.txt", &r, quiet_steps);
    runlog_close(&r);
    unsetenv("IL_PROGRESS");
    int draws = 0;
    for (const char *p = out; (p = strstr(p, "\rstep ")); p++) draws++;
    if (draws < 2 || draws >= 12) fail_msg("%d progress lines for 12 steps over more than 1.1 s: %s", draws, out);
    assert_non_null(strstr(out, "\rstep 1/100000 |"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_widths), cmocka_unit_test(test_eta_smoothing), cmocka_unit_test(test_eta_traces),
        cmocka_unit_test(test_progress_mode), cmocka_unit_test(test_output), cmocka_unit_test(test_redraw_on_time),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
