#!/usr/bin/env bash
# The benchmarks still run and say what they measured (a smoke test at tiny sizes; their numbers belong in
# `make bench`, not here): il-bench's step speed against SGEMM, the tracing cost of a sweep spec's models, the
# data-parallel scaling, and the aggregation benchmark's generator and timing line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_bench

"$bin/il-bench" --config A --steps 2 --probe >bench.out
grep -q "reference: OpenBLAS SGEMM 2048^3" bench.out && grep -q "config A: V=256 T=64 L=4 NH=4 C=128 B=4" bench.out &&
    grep -qE "median of 2 steps: [0-9.]+ ms/step, [0-9]+ tokens/s, [0-9.]+ GFLOP/s = [0-9.]+ x SGEMM" bench.out &&
    grep -qE "memory estimate: [0-9.]+ GB \(parameters and gradients [0-9.]+, AdamW [0-9.]+, activations [0-9.]+\)" bench.out &&
    grep -q "where the time goes" bench.out || die "il-bench output: $(cat bench.out)"
# the probe pass (config G always times it): il-probe's work per checkpoint on the default probe set
grep -qE "probe pass .* over 64 windows \(4096 tokens\) in 8 groups, 4 windows a pass: [0-9.]+ s on 1 rank = [0-9.]+ steps" bench.out &&
    ! grep -q "scaled from" bench.out || die "il-bench --probe output: $(cat bench.out)"
# --windows: a part of the set timed (G's whole set is most of an hour on 2 cores), scaled to the whole by
# the windows' ratio, checked here against the pass's own time
"$bin/il-bench" --config A --steps 1 --probe --windows 2 >bench-w.out
pass=$(sed -n 's/.*probe pass .* over 2 windows (128 tokens) in 2 groups, 4 windows a pass: \([0-9.]*\) s on 1 rank.*/\1/p' bench-w.out)
scaled=$(sed -n 's/.*the default probe set of 64 windows, scaled from 2: about \([0-9.]*\) s on 1 rank.*/\1/p' bench-w.out)
[ -n "$pass" ] && [ -n "$scaled" ] || die "il-bench --probe --windows 2 output: $(cat bench-w.out)"
awk -v p="$pass" -v s="$scaled" 'BEGIN { exit !(s >= 32 * p - 0.17 && s <= 32 * p + 0.17) }' ||
    die "il-bench --windows 2: $scaled s is not 32 x $pass s"
expect_fail il-bench "--probe goes with the step speed" "$bin/il-bench" --trace --probe
expect_fail il-bench "--windows sizes the probe pass" "$bin/il-bench" --windows 2
"$bin/il-bench" --help | grep -q "A|D|G" || die "il-bench --help does not name config G"
# --trace at a tiny spec's [fixed] keys: each model once (not per seed), its schedule counted (100 steps at
# stride 20: 0, 1, 2, 4, 8, 16, 20, 40, 60, 80, 100; full by ordinal 0, 4, 8 and the last), the median of 2
# rounds, the traced run against the untraced one
cat >tiny.ini <<'INI'
[sweep]
name = tiny
ranks = 2
[fixed]
model.seq_len = 16
model.n_head = 2
model.vocab_size = 64
train.global_batch = 4
train.micro_batch = 2
train.max_steps = 100
trace.interval = 20
trace.probe_windows = 8
trace.probe_groups = 4
[list]
model.d_model = 16, 32
model.n_layer = 1, 2
[grid]
train.seed = 1, 2
INI
"$bin/il-bench" --trace --steps 2 tiny.ini >trace.out
[ "$(grep -c '^trace cost, tiny.ini, ' trace.out)" -eq 2 ] &&
    grep -q "^trace cost, tiny.ini, d_model 32, n_layer 2: V=64 T=16 L=2 NH=2 C=32, global batch 4 on one rank (2 x micro-batch 2)" trace.out &&
    [ "$(grep -c "schedule: 100 steps, trace.interval 20, trace.log_spaced 2, trace.full_every 4: 11 trace steps, 4 full, 7 without" trace.out)" -eq 2 ] &&
    grep -qE "median of 2 rounds: an ordinary step [0-9.]+ ms \(median of 2\), a full trace step [0-9.]+ ms = [0-9.]+ steps" trace.out &&
    grep -qE "tracing costs [0-9.]+% of training time \(the traced run takes [0-9.]+ x the untraced one\)" trace.out &&
    grep -qE "trace file per rank: 11 records, [0-9.]+ MB" trace.out || die "il-bench --trace output: $(cat trace.out)"
expect_fail il-bench "--trace measures the specs' models, not --config" "$bin/il-bench" --trace --config A tiny.ini
# without a spec: the research sweep's and the demo's, found beside the tool (here in a tree of tiny copies)
mkdir -p tree/build/bin tree/jobs/examples && cp "$bin/il-bench" tree/build/bin/
sed 's/model.d_model = 16, 32/model.d_model = 16, 16/' tiny.ini >tree/jobs/examples/science.ini
sed 's/^trace.interval = 20/trace.interval = 10/; /^\[list\]/,/^model.n_layer/d' tiny.ini >tree/jobs/examples/demo-sweep.ini
tree/build/bin/il-bench --trace --steps 1 >default.out
[ "$(grep -c '^trace cost, ' default.out)" -eq 3 ] && grep -q "^trace cost, .*/tree/jobs/examples/science.ini, d_model 16, n_layer 2" default.out &&
    grep -q "^trace cost, .*/tree/jobs/examples/demo-sweep.ini, d_model 128, n_layer 4" default.out &&
    grep -q "schedule: 100 steps, trace.interval 10, trace.log_spaced 2, trace.full_every 4: 15 trace steps, 5 full" default.out ||
    die "il-bench --trace without a spec: $(cat default.out)"
expect_fail il-bench "nothere.ini" "$bin/il-bench" --trace nothere.ini
# the layouts of a 2-core node: 1 x 1 (the reference), 1 x 2, and 2 x 1 in both reduction modes
mpirun -n 2 --oversubscribe --bind-to none "$bin/il-bench" --scaling --config A --steps 6 --cores 2 >scaling.out
row='[0-9]+ \| [0-9.]+x \| [0-9.]+x SGEMM\([12] threads?\) \|'
grep -qE "^\| 1 x 1 \| - \| [0-9]+ \| 1.00x \| [0-9.]+x SGEMM\(1 thread\) \| - \|$" scaling.out &&
    grep -qE "^\| 1 x 2 \| - \| $row - \|$" scaling.out && grep -qE "^\| 2 x 1 \| overlap( \(after backward\))? \| $row [0-9.]+% \|$" scaling.out &&
    grep -qE "^\| 2 x 1 \| blocking \| $row [0-9.]+% \|$" scaling.out && [ "$(grep -c '^| [12] x' scaling.out)" = 4 ] ||
    die "il-bench --scaling table: $(cat scaling.out)"
# the pick is the fastest row, found here again, with the Slurm options that ask for its layout
best=$(awk -F' [|] ' '/^\| [0-9]+ x [0-9]+ \|/ { if (n++ == 0) next; if ($3 + 0 > max) { max = $3 + 0; l = $1; m = $2; sub(/ [(].*/, "", m) } }
    END { sub(/^\| /, "", l); sub(/ x /, " ", l); print l, m }' scaling.out) # the rows after the reference
read -r P t mode <<<"$best"
slurm="sbatch --nodes=1 --ntasks-per-node=$P --cpus-per-task=$t, srun --cpu-bind=cores, OMP_NUM_THREADS=$t"
grep -qE "^would pick: $P ranks? x $t threads?(, train.allreduce = $mode)?, [0-9.]+x 1 x 1; with Slurm: $slurm$" scaling.out ||
    die "il-bench --scaling did not pick the fastest layout ($P x $t $mode): $(cat scaling.out)"
# overlapped against blocking, pair by pair: the line's form, 6 pairs and a plausible interval; every layout
# on cores of its own
# when launched unbound, and the layouts of 2 threads a rank left sharing when the launcher binds each rank
# to one core
awk '/^overlap \/ blocking tokens\/s, 2 x 1: / { r = $8 + 0; split($NF, iv, "-"); sub(/\)/, "", iv[2])
    ok = $12 == 6 && iv[1] + 0 <= r && r <= iv[2] + 0 && iv[1] > 0.5 && iv[2] < 2 } END { exit !ok }' scaling.out &&
    ! grep -q "share cores" scaling.out || die "il-bench --scaling overlap / blocking line: $(cat scaling.out)"
mpirun -n 2 --oversubscribe --bind-to core "$bin/il-bench" --scaling --config A --steps 1 --cores 2 >bound.out
grep -q "^  note: 1 x 2: ranks share cores" bound.out && ! grep -q "note: 2 x 1" bound.out &&
    grep -q "(an interval needs 6 steps)" bound.out || die "il-bench --scaling, ranks bound to a core each: $(cat bound.out)"
expect_fail il-bench "--cores" "$bin/il-bench" --scaling --cores 0
expect_fail il-bench "--steps" "$bin/il-bench" --steps 0
"$bin/il-synth-traces" --out runs --runs 3 --ranks 2 --steps 10 --vary >/dev/null
"$bin/il-aggregate" --out agg runs >agg.out 2>&1 || die "aggregating synthetic runs: $(cat agg.out)"
grep -qE "3 runs .* s on 1 rank\(s\), peak memory [0-9]+ MB" agg.out || die "il-aggregate timing line: $(cat agg.out)"
echo "t_bench: ok"
