/* The gradient reduction (gsync) on a small model, on every rank of the world: run by tests/run.sh on one
 * rank and by tests/t_mpi.sh on two. Overlapped, the buckets are summed by the communication thread while
 * backward still runs, and the thread calling backward makes no MPI call until gsync_finish (MPI's
 * calls are wrapped here through the profiling interface to see who calls them); the result equals the
 * blocking reduction and a sum of every rank's gradients taken here in double. */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>
#include <unistd.h>

#include "tests/check.h"
#include "core/clock.h"
#include "core/dist.h"
#include "core/err.h"
#include "model/gsync.h"
#include "model/gpt.h"

static dist_t world;
static pthread_t main_thread;
static atomic_int watching;            /* between gsync_arm and gsync_finish */
static atomic_int main_calls, comm_calls; /* reductions called while watching, by the main thread and others */

static void count_call(void)
{
    if (!atomic_load(&watching)) return;
    atomic_fetch_add(pthread_equal(pthread_self(), main_thread) ? &main_calls : &comm_calls, 1);
}

/* The profiling interface: these replace the library's entry points for gsync's calls. */
int MPI_Allreduce(const void *sb, void *rb, int n, MPI_Datatype t, MPI_Op op, MPI_Comm comm)
{
    count_call();
    return PMPI_Allreduce(sb, rb, n, t, op, comm);
}
int MPI_Iallreduce(const void *sb, void *rb, int n, MPI_Datatype t, MPI_Op op, MPI_Comm comm, MPI_Request *r)
{
    count_call();
    return PMPI_Iallreduce(sb, rb, n, t, op, comm, r);
}
int MPI_Testall(int n, MPI_Request r[], int *flag, MPI_Status s[])
{
    count_call();
    return PMPI_Testall(n, r, flag, s);
}
int MPI_Waitall(int n, MPI_Request r[], MPI_Status s[])
{
    count_call();
    return PMPI_Waitall(n, r, s);
}

enum { B = 2 };
static const gpt_dims_t dims = {64, 8, 4, 2, 16};

typedef struct {
    gpt_t m;
    int32_t x[B * 8 + 1]; /* this rank's tokens: inputs x[0..], targets x[1..] */
    gsync_t *sync;
    int waited;           /* buckets whose reduction a backward hook saw finish before backward did */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    gpt_create(&f->m, &dims, B, &kernels_fast);
    rng_t rng;
    rng_seed(&rng, 5);
    gpt_init_params(&f->m, &rng); /* the same parameters on every rank, other data */
    rng_seed(&rng, 100 + (uint64_t)world.rank);
    for (int i = 0; i <= B * dims.T; i++) f->x[i] = (int32_t)(rng_u64(&rng) % (uint64_t)dims.V);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    gpt_destroy(&f->m);
    free(f);
    return 0;
}

static void forward(fixture_t *f)
{
    gpt_forward(&f->m, f->x, f->x + 1, B, dims.T);
    gpt_zero_grad(&f->m);
}

/* gsync's hook, then: when it has just handed a bucket over, wait (at most a minute) until the thread has
 * summed it, while backward is still inside the block loop. */
static void waiting_hook(void *ctx, int layer)
{
    fixture_t *f = ctx;
    int before = f->sync->posted;
    gsync_block_done(f->sync, layer);
    if (f->sync->posted == before) return;
    double deadline = clock_seconds() + 60;
    while (gsync_reduced(f->sync) < f->sync->posted && clock_seconds() < deadline)
        nanosleep(&(struct timespec){0, 100000}, NULL);
    if (gsync_reduced(f->sync) == f->sync->posted) f->waited++;
}

/* One backward with the reduction in the given mode, the gradients into out: 0 blocking, 1 overlapped
 * with the buckets handed over during backward, 2 overlapped where no core is spare (after_backward: the
 * blocking call after backward). In mode 2 the calls are counted through gsync_finish too. */
static void reduce_once(fixture_t *f, int mode, float *out, int wait_in_hook)
{
    gsync_t s;
    int overlap = mode > 0;
    gsync_init(&s, &f->m, 1, MPI_COMM_WORLD, overlap); /* every block a bucket of its own */
    assert_int_equal(s.threaded, overlap);
    assert_int_equal(s.n_buckets, dims.L);
    /* on one node, unbound or bound to a core each: after backward exactly where each rank computes on
     * one thread and the ranks' cores are no more than the ranks */
    cpu_set_t mine;
    assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
    int cores = CPU_COUNT(&mine), online = (int)sysconf(_SC_NPROCESSORS_ONLN), fewest, most;
    CHECK_RC(MPI_Allreduce(&cores, &fewest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), dist_strerror);
    CHECK_RC(MPI_Allreduce(&cores, &most, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), dist_strerror);
    int node_cores = most == online ? online : world.size, none = omp_get_max_threads() == 1 && world.size >= node_cores;
    int everywhere; /* every rank makes the same calls, so one answer for all */
    CHECK_RC(MPI_Allreduce(&none, &everywhere, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), dist_strerror);
    if (overlap && fewest == most && (most == online || most == 1)) assert_int_equal(s.after_backward, everywhere);
    if (overlap) s.after_backward = mode == 2;
    f->sync = &s;
    forward(f);
    gsync_arm(&s, &f->m);
    if (wait_in_hook) f->m.on_block_done = waiting_hook, f->m.hook_ctx = f;
    atomic_store(&watching, 1);
    gpt_backward(&f->m, 1.0f);
    if (mode != 2) atomic_store(&watching, 0);
    gsync_finish(&s, &f->m);
    atomic_store(&watching, 0);
    memcpy(out, f->m.grads, f->m.n_params * sizeof *out);
    gsync_free(&s);
}

static void test_thread_reduces_during_backward(void **state)
{
    fixture_t *f = *state;
    float *g = malloc(f->m.n_params * sizeof *g);
    atomic_store(&main_calls, 0);
    atomic_store(&comm_calls, 0);
    f->waited = 0;
    reduce_once(f, 1, g, 1);
    /* the top L-1 buckets start at block boundaries and finish before backward does; the last one (block 0
     * and the embeddings) starts in gsync_finish */
    assert_int_equal(f->waited, dims.L - 1);
    assert_int_equal(atomic_load(&main_calls), 0);
    assert_int_equal(atomic_load(&comm_calls), dims.L - 1);
    free(g);
}

static void test_overlap_equals_blocking_and_the_sum(void **state)
{
    fixture_t *f = *state;
    size_t n = f->m.n_params;
    float *ov = malloc(n * sizeof *ov), *bl = malloc(n * sizeof *bl), *want = malloc(n * sizeof *want);
    float *all = malloc(n * (size_t)world.size * sizeof *all);
    /* every rank's own gradients, gathered, summed in double in rank order */
    forward(f);
    gpt_backward(&f->m, 1.0f);
    CHECK_RC(MPI_Allgather(f->m.grads, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, MPI_COMM_WORLD), dist_strerror);
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (int r = 0; r < world.size; r++) sum += all[(size_t)r * n + i];
        want[i] = (float)sum;
    }
    reduce_once(f, 0, bl, 0);
    for (int mode = 1; mode <= 2; mode++) {
        atomic_store(&main_calls, 0);
        atomic_store(&comm_calls, 0);
        reduce_once(f, mode, ov, 0);
        /* where no core is spare: the calling thread's one call after backward, none by the thread */
        if (mode == 2) assert_true(atomic_load(&main_calls) == 1 && atomic_load(&comm_calls) == 0);
        /* float sums of P terms in another order differ by a few units in the last place */
        assert_int_equal(count_far("overlapped", ov, want, n, 4e-7 * world.size, 1e-9, 1), 0);
        /* two ranks add two numbers, in either order the same float */
        if (world.size <= 2) assert_memory_equal(ov, bl, n * sizeof *ov);
    }
    assert_int_equal(count_far("blocking", bl, want, n, 4e-7 * world.size, 1e-9, 1), 0);
    free(ov);
    free(bl);
    free(want);
    free(all);
}

/* The hooks of the test below: rank 1 is late, holding its first bucket back for a while as a slower rank
 * would; rank 0 hands its first bucket over and then computes for as long, keeping its one core busy. */
enum { LATE_MS = 300 };
static void late_hook(void *ctx, int layer)
{
    fixture_t *f = ctx;
    if (f->sync->posted == 0) nanosleep(&(struct timespec){0, LATE_MS * 1000000L}, NULL);
    gsync_block_done(f->sync, layer);
}
static void busy_hook(void *ctx, int layer)
{
    fixture_t *f = ctx;
    int first = f->sync->posted == 0;
    gsync_block_done(f->sync, layer);
    if (!first) return;
    volatile double x = 0;
    for (double t0 = clock_seconds(); clock_seconds() - t0 < LATE_MS * 1e-3;) x += 1;
}

/* While a rank's thread waits for a slower rank to hand over the same bucket, it must not take the core
 * that this rank's backward needs (a blocking MPI call waits by spinning): with rank 0 on one core, busy
 * for all of rank 1's lateness, its thread gets a small part of that in CPU time. */
static void test_waiting_thread_leaves_the_core(void **state)
{
    fixture_t *f = *state;
    if (world.size < 2) skip();
    cpu_set_t was, one;
    assert_int_equal(sched_getaffinity(0, sizeof was, &was), 0);
    CPU_ZERO(&one);
    int here = sched_getcpu();
    CPU_SET(here >= 0 ? here : 0, &one);
    if (world.rank == 0) assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0); /* the thread inherits it */
    gsync_t s;
    gsync_init(&s, &f->m, 1, MPI_COMM_WORLD, 1);
    assert_true(s.idle_class);
    s.after_backward = 0; /* the thread sums, whatever cores the ranks have */
    f->sync = &s;
    clockid_t cpu;
    assert_int_equal(pthread_getcpuclockid(s.thread, &cpu), 0);
    struct timespec t0, t1;
    clock_gettime(cpu, &t0);
    forward(f);
    gsync_arm(&s, &f->m);
    f->m.on_block_done = world.rank == 1 ? late_hook : busy_hook, f->m.hook_ctx = f;
    gpt_backward(&f->m, 1.0f);
    gsync_finish(&s, &f->m);
    clock_gettime(cpu, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6;
    if (world.rank == 0) {
        print_message("rank 0's thread: %.1f ms of CPU while rank 1 was %d ms late\n", ms, LATE_MS);
        assert_true(ms < 0.1 * LATE_MS);
    }
    gsync_free(&s);
    assert_int_equal(sched_setaffinity(0, sizeof was, &was), 0);
}

static void pass(void *ctx)
{
    fixture_t *f = ctx;
    forward(f);
    gsync_arm(f->sync, &f->m);
    gpt_backward(&f->m, 1.0f);
    gsync_finish(f->sync, &f->m);
}

static void test_autotune_agrees_on_every_rank(void **state)
{
    fixture_t *f = *state;
    gsync_t s;
    gsync_init(&s, &f->m, 1, MPI_COMM_WORLD, 1);
    f->sync = &s;
    double secs[2];
    gsync_autotune(&s, pass, f, 2, secs);
    assert_true(secs[0] > 0 && secs[1] > 0);
    int mode[2] = {s.overlap, -s.overlap}, agreed[2];
    CHECK_RC(MPI_Allreduce(mode, agreed, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD), dist_strerror);
    assert_int_equal(agreed[0], -agreed[1]); /* the largest and the smallest choice are one */
    assert_int_equal(s.overlap, secs[0] <= secs[1]);
    gsync_free(&s);
    /* blocking asked for: no thread, nothing to time */
    gsync_init(&s, &f->m, 1, MPI_COMM_WORLD, 0);
    gsync_autotune(&s, pass, f, 2, secs);
    assert_true(isnan(secs[0]) && isnan(secs[1]) && !s.overlap && !s.threaded);
    gsync_free(&s);
}

/* Ranks that differ in threads still agree whether to make the one blocking call: they would otherwise
 * make different collective calls (one rank one all-reduce, another one a bucket). */
static void test_after_backward_agrees(void **state)
{
    fixture_t *f = *state;
    if (world.size < 2) skip();
    int was = omp_get_max_threads();
    omp_set_num_threads(world.rank == 0 ? 1 : 2); /* rank 0 alone would have no spare core on 2 cores */
    gsync_t s;
    gsync_init(&s, &f->m, 1, MPI_COMM_WORLD, 1);
    int mine[2] = {s.after_backward, -s.after_backward}, all[2];
    CHECK_RC(MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD), dist_strerror);
    assert_int_equal(all[0], -all[1]);
    assert_int_equal(s.after_backward, 0);
    gsync_free(&s);
    omp_set_num_threads(was);
}

/* A pass whose time depends on its place in the series, not on the mode: the first of each pair of timed
 * passes (after the warm-up) takes 4 ms more, as the first step after a switch of modes did on 2 ranks. */
static int biased_calls;
static void biased_pass(void *ctx)
{
    (void)ctx;
    int timed = biased_calls++ - 1; /* call 0 is the warm-up */
    nanosleep(&(struct timespec){.tv_nsec = timed >= 0 && timed % 2 == 0 ? 5000000 : 1000000}, NULL);
}

static void test_autotune_order_is_balanced(void **state)
{
    fixture_t *f = *state;
    gsync_t s;
    gsync_init(&s, &f->m, 1, MPI_COMM_WORLD, 1);
    double secs[2];
    biased_calls = 0;
    gsync_autotune(&s, biased_pass, NULL, 4, secs);
    if (world.rank == 0) print_message("position-biased passes: %.2f ms overlapped, %.2f ms blocking\n", 1e3 * secs[0], 1e3 * secs[1]);
    /* each mode comes first in half its pairs: both means 3 ms, where alternating charges 5 ms to one */
    assert_true(fabs(secs[0] - secs[1]) < 1e-3);
    int turns[2] = {0, 0};
    for (int i = 0; i < 8; i++) turns[gsync_overlap_turn(i)] += i % 2 == 0;
    assert_int_equal(turns[0], turns[1]);
    gsync_free(&s);
}

int main(int argc, char **argv)
{
    main_thread = pthread_self();
    if (dist_init(&world, &argc, &argv)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_thread_reduces_during_backward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_equals_blocking_and_the_sum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autotune_agrees_on_every_rank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autotune_order_is_balanced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_backward_agrees, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_thread_leaves_the_core, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    dist_finalize();
    return failed;
}
