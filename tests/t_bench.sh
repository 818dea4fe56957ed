#!/usr/bin/env bash
# The benchmarks still run and say what they measured (a smoke test at tiny sizes; their numbers belong in
# `make bench`, not here): il-bench's step speed against SGEMM, the tracing cost, the data-parallel scaling,
# and the aggregation benchmark's generator and timing line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_bench

"$bin/il-bench" --config A --steps 2 >bench.out
grep -q "reference: OpenBLAS SGEMM 2048^3" bench.out && grep -q "config A: V=256 T=64 L=4 NH=4 C=128 B=4" bench.out &&
    grep -qE "median of 2 steps: [0-9.]+ ms/step, [0-9]+ tokens/s, [0-9.]+ GFLOP/s = [0-9.]+ x SGEMM" bench.out &&
    grep -qE "memory estimate: [0-9.]+ GB \(parameters and gradients [0-9.]+, AdamW [0-9.]+, activations [0-9.]+\)" bench.out &&
    grep -q "where the time goes" bench.out || die "il-bench output: $(cat bench.out)"
"$bin/il-bench" --help | grep -q "A|D|G" || die "il-bench --help does not name config G"
"$bin/il-bench" --trace --config A --steps 2 >trace.out
grep -qE "a trace step costs [0-9.]+ ms = [0-9.]+ ordinary steps" trace.out && grep -q "MB" trace.out ||
    die "il-bench --trace output: $(cat trace.out)"
# the layouts of a 2-core node: 1 x 1 (the reference), 1 x 2, and 2 x 1 in both reduction modes
mpirun -n 2 --oversubscribe --bind-to none "$bin/il-bench" --scaling --config A --steps 1 --cores 2 >scaling.out
row='[0-9]+ \| [0-9.]+x \| [0-9.]+x SGEMM\([12] threads?\) \|'
grep -qE "^\| 1 x 1 \| - \| [0-9]+ \| 1.00x \| [0-9.]+x SGEMM\(1 thread\) \| - \|$" scaling.out &&
    grep -qE "^\| 1 x 2 \| - \| $row - \|$" scaling.out && grep -qE "^\| 2 x 1 \| overlap \| $row [0-9.]+% \|$" scaling.out &&
    grep -qE "^\| 2 x 1 \| blocking \| $row [0-9.]+% \|$" scaling.out && [ "$(grep -c '^| [12] x' scaling.out)" = 4 ] ||
    die "il-bench --scaling table: $(cat scaling.out)"
# the pick is the fastest row, found here again, with the Slurm options that ask for its layout
best=$(awk -F' [|] ' '/^\| [0-9]+ x [0-9]+ \|/ { if (n++ == 0) next; if ($3 + 0 > max) { max = $3 + 0; l = $1; m = $2 } }
    END { sub(/^\| /, "", l); sub(/ x /, " ", l); print l, m }' scaling.out) # the rows after the reference
read -r P t mode <<<"$best"
slurm="sbatch --nodes=1 --ntasks-per-node=$P --cpus-per-task=$t, OMP_NUM_THREADS=$t"
grep -qE "^would pick: $P ranks? x $t threads?(, train.allreduce = $mode)?, [0-9.]+x 1 x 1; with Slurm: $slurm$" scaling.out ||
    die "il-bench --scaling did not pick the fastest layout ($P x $t $mode): $(cat scaling.out)"
expect_fail il-bench "--cores" "$bin/il-bench" --scaling --cores 0
expect_fail il-bench "--steps" "$bin/il-bench" --steps 0
"$bin/il-synth-traces" --out runs --runs 3 --ranks 2 --steps 10 --vary >/dev/null
"$bin/il-aggregate" --out agg runs >agg.out 2>&1 || die "aggregating synthetic runs: $(cat agg.out)"
grep -qE "3 runs .* s on 1 rank\(s\), peak memory [0-9]+ MB" agg.out || die "il-aggregate timing line: $(cat agg.out)"
echo "t_bench: ok"
