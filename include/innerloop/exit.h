/* exit: the exit codes of the il-* tools, which job scripts and users' pipelines act on (README.md). */
#ifndef INNERLOOP_EXIT_H
#define INNERLOOP_EXIT_H

enum {
    IL_EXIT_OK = 0,
    IL_EXIT_FAIL = 1,       /* internal or runtime failure */
    IL_EXIT_INPUT = 2,      /* bad command line, config, corpus, shard or checkpoint */
    IL_EXIT_PARTIAL = 3,    /* il-aggregate: results written, some inputs skipped (skipped.md) */
    IL_EXIT_PREEMPTED = 75, /* stopped by a signal after writing a checkpoint: requeue and --resume
                               (75 is EX_TEMPFAIL, "try again later") */
};

#endif
