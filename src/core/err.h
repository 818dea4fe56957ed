/* err: one way to report failure.
 *
 * Two kinds of failure, kept apart on purpose:
 *  - a user's bad input (config, corpus, shard, checkpoint): library code records a one-line message
 *    naming the file, line or key with err_set() and returns -1; the tool's main prints it and exits
 *    with IL_EXIT_INPUT. Tests read err_msg() to check the reason.
 *  - an internal failure (a library call that must not fail, out of memory): CHECK() reports source
 *    file and line and ends the process through the abort hook, which the distributed layer points at
 *    MPI_Abort so that every rank stops, not just this one. */
#ifndef IL_ERR_H
#define IL_ERR_H

#include <stddef.h>

/* Exit codes, documented in README.md. */
enum {
    IL_EXIT_OK = 0,
    IL_EXIT_FAIL = 1,      /* internal or runtime failure */
    IL_EXIT_INPUT = 2,     /* bad command line, config, corpus, shard or checkpoint */
    IL_EXIT_PREEMPTED = 75, /* stopped by a signal after writing a checkpoint: requeue and --resume
                               (75 is EX_TEMPFAIL, "try again later") */
};

/* Records a printf-style message for err_msg(); always returns -1 so callers can `return err_set(...)`. */
int err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_msg(void);

/* Reports "file:line: message" on stderr and ends the process (all ranks, once a hook is set). */
_Noreturn void err_fatal(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void err_set_abort_hook(void (*hook)(int exit_code));

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) err_fatal(__FILE__, __LINE__, __VA_ARGS__);                           \
    } while (0)

/* A library call whose return code must be 0 (MPI_SUCCESS, NC_NOERR, a BLACS/ScaLAPACK info): anything
 * else is fatal, reported with the call's text and describe(rc), the library's own message. */
#define CHECK_RC(call, describe)                                                                           \
    do {                                                                                                   \
        int rc_ = (call);                                                                                  \
        if (rc_ != 0) err_fatal(__FILE__, __LINE__, "%s: %s", #call, describe(rc_));                      \
    } while (0)

/* Fault tests: when the environment variable IL_TEST_KILL names `point`, the process dies by SIGKILL
 * there, as it would from a crash or a lost node. */
void err_test_kill(const char *point);

/* Allocation that cannot fail silently; zero-filled. */
void *err_calloc(size_t n, size_t size);
/* strdup that cannot fail silently. */
char *err_strdup(const char *s);

#endif
