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

#include "innerloop/exit.h"

/* Records a printf-style message for err_msg(); always returns -1 so callers can `return err_set(...)`. */
int err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_msg(void);
/* Puts the printf-style context and ": " before the message recorded, so that a caller can say which
 * file, line or key a callee's failure was about ("spec.ini:3: ..."); always returns -1. */
int err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Propagating a failure, in the spirit of PETSc's PetscCall. Inside a function that returns 0 or -1:
 *  - CALL(call): a project call that returns < 0 after err_set has failed; return -1 with its message;
 *  - CALL_CTX(call, fmt, ...): the same, with err_prefix(fmt, ...) put before its message;
 *  - CALL_RC(call, describe, fmt, ...): a library call whose return code must be 0 (NC_NOERR, ...) and
 *    whose failure is the input's, not ours (a foreign or damaged file): return -1 with the message
 *    "CONTEXT: describe(rc)". CHECK_RC is for the calls that must not fail at all. */
#define CALL(call)                                                                                         \
    do {                                                                                                   \
        if ((call) < 0) return -1;                                                                         \
    } while (0)
#define CALL_CTX(call, ...)                                                                                \
    do {                                                                                                   \
        if ((call) < 0) return err_prefix(__VA_ARGS__);                                                    \
    } while (0)
#define CALL_RC(call, describe, ...)                                                                       \
    do {                                                                                                   \
        int rc_ = (call);                                                                                  \
        if (rc_ != 0) {                                                                                    \
            err_set("%s", describe(rc_));                                                                  \
            return err_prefix(__VA_ARGS__);                                                                \
        }                                                                                                  \
    } while (0)

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
