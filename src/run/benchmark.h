/* benchmark: the measurements behind il-bench (README.md, docs/scaling.md): training-step speed of a model
 * config against this machine's SGEMM rate measured in the same run (the machines are shared and noisy, so
 * only the ratio travels), with where the time goes kernel by kernel; data-parallel scaling over the ranks
 * of the MPI world; and the cost of a trace step and the size of a trace file. Each prints its report on
 * stdout. */
#ifndef IL_BENCHMARK_H
#define IL_BENCHMARK_H

#include "core/config.h"
#include "core/dist.h"
#include "model/gpt.h"

/* A named model config and its per-rank batch. */
typedef struct {
    const char *name;
    gpt_dims_t d;
    int B;
} benchmark_cfg_t;

/* GFLOP/s of an n x n x n SGEMM, the median of reps (at most 16). */
double benchmark_sgemm_gflops(int n, int reps);

/* steps timed training steps of bc on this rank, reported against the SGEMM rate sgemm; with probe_pass,
 * then the time of one probe pass of il-probe over the default probe set with the same model and batch, or
 * over `windows` windows (0: the default set's), scaled to the default set. */
void benchmark_model(const benchmark_cfg_t *bc, int steps, double sgemm, int probe_pass, int windows);

/* Data-parallel scaling of bc on a node of `cores` cores: every layout of P ranks x cores/P threads, P a power
 * of two up to the world's size, with and without overlapped gradient reduction, against 1 rank x 1 thread
 * and against SGEMM on as many threads, measured in the same run; then the fastest layout, with the Slurm
 * options that ask for it. Every rank of the world calls it; rank 0 reports. */
void benchmark_scaling(const benchmark_cfg_t *bc, int steps, int cores, const dist_t *d);
/* The cores of this node: Slurm's SLURM_CPUS_ON_NODE, else the online CPUs. */
int benchmark_node_cores(void);

/* The cost of tracing run c (its model, batch, steps and trace keys; vocab_size set) on one rank, as a
 * share of its training time: the traced run against the untraced one, estimated in each of `rounds`
 * rounds (at most 16) from the median of `steps` ordinary steps and a full and a thin trace step timed in
 * the same round, weighted by the schedule's counts of full and thin trace steps; the median over the rounds,
 * and the size of the run's trace file. label names the run in the report; command is what the trace
 * file's history names. */
void benchmark_trace_cost(const config_t *c, const char *label, int steps, int rounds, const char *command);

#endif
