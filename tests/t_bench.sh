#!/usr/bin/env bash
# The benchmarks still run and say what they measured (a smoke test at tiny sizes; their numbers belong in
# `make bench`, not here): il-bench's step speed against SGEMM, the tracing cost, the data-parallel scaling,
# and the aggregation benchmark's generator and timing line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_bench

"$bin/il-bench" --config A --steps 2 --probe >bench.out
grep -q "reference: OpenBLAS SGEMM 2048^3" bench.out && grep -q "config A: V=256 T=64 L=4 NH=4 C=128 B=4" bench.out &&
    grep -qE "median of 2 steps: [0-9.]+ ms/step, [0-9]+ tokens/s, [0-9.]+ GFLOP/s = [0-9.]+ x SGEMM" bench.out &&
    grep -qE "memory estimate: [0-9.]+ GB \(parameters and gradients [0-9.]+, AdamW [0-9.]+, activations [0-9.]+\)" bench.out &&
    grep -q "where the time goes" bench.out || die "il-bench output: $(cat bench.out)"
# the probe pass (config G always times it): il-probe's work per checkpoint on the default probe set
grep -qE "probe pass .* default probe set of 64 windows \(4096 tokens\) in 8 groups, 4 windows a pass: [0-9.]+ s on 1 rank = [0-9.]+ steps" bench.out ||
    die "il-bench --probe output: $(cat bench.out)"
expect_fail il-bench "--probe goes with the step speed" "$bin/il-bench" --trace --probe
"$bin/il-bench" --help | grep -q "A|D|G" || die "il-bench --help does not name config G"
"$bin/il-bench" --trace --config A --steps 2 >trace.out
grep -qE "a trace step costs [0-9.]+ ms = [0-9.]+ ordinary steps" trace.out && grep -q "MB" trace.out ||
    die "il-bench --trace output: $(cat trace.out)"
mpirun -n 2 --oversubscribe "$bin/il-bench" --scaling --config A --steps 2 >scaling.out
grep -qE "2 ranks: [0-9]+ tokens/s = [0-9.]+x, waiting on communication" scaling.out ||
    die "il-bench --scaling output: $(cat scaling.out)"
expect_fail il-bench "--steps" "$bin/il-bench" --steps 0
"$bin/il-synth-traces" --out runs --runs 3 --ranks 2 --steps 10 --vary >/dev/null
"$bin/il-aggregate" --out agg runs >agg.out 2>&1 || die "aggregating synthetic runs: $(cat agg.out)"
grep -qE "3 runs .* s on 1 rank\(s\), peak memory [0-9]+ MB" agg.out || die "il-aggregate timing line: $(cat agg.out)"
echo "t_bench: ok"
