#!/usr/bin/env bash
# The main job end to end, shortened: scripts/demo.sh (what `make demo` runs) on tiny data and a tiny
# spec (3 model sizes x 2 seeds, 2 ranks each, a few traced steps), through a real private Slurm. Every
# expected table and figure exists and is non-empty, the runs table lists every run, and the claims have
# a verdict for every hypothesis. Then the same in local mode (mpirun, no Slurm), reusing the finished runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_demo
source "$root/tests/sweep_lib.sh"
tiny_corpus --tokenizer byte
cat >tiny.ini <<'INI'
[sweep]
name = tiny
ranks = 2
time = 00:10:00
throttle = 2
[fixed]
model.seq_len = 16
model.n_head = 2
data.train_path = data/train.bin
data.val_path = data/val.bin
train.global_batch = 8
train.micro_batch = 4
train.max_steps = 20
optim.warmup_steps = 4
eval.interval = 10
eval.batches = 1
trace.interval = 5
run.ckpt_interval = 10
[list]
model.d_model = 16, 24, 32
model.n_layer = 1, 2, 2
[grid]
train.seed = 1, 2
INI
DEMO_CLUSTER=$tmp/cluster timeout 600 "$root/scripts/demo.sh" "$bin" tiny.ini >demo.out 2>&1 ||
    die "demo failed: $(tail -20 demo.out)"
out=sweeps/tiny/aggregate
for f in runs.csv runs.md norms.csv norms.md inner.csv inner.md claims.md claims.csv summary.nc; do
    [ -s "$out/$f" ] || die "$out/$f missing or empty"
done
for f in loss_curves h1_sizes genres scaling norm_position_ lens_depth_ cos_depth_ signals_; do
    ls "$out"/figures/$f*.png >/dev/null 2>&1 || die "no figure $f*.png: $(ls "$out/figures")"
    grep -q "figures/$f" demo.out || die "the demo did not name $f*.png at its end"
done
for f in "$out"/figures/*.png; do [ -s "$f" ] || die "$f is empty"; done
[ -s "$out/scaling.csv" ] || die "no scaling.csv"
while read -r run; do
    grep -q "^$run," "$out/runs.csv" || die "runs table lacks $run"
done < <(awk -F'\t' 'NR > 1 { print $2 }' sweeps/tiny/manifest.tsv)
[ "$(awk 'NR > 1' "$out/runs.csv" | wc -l)" -eq 6 ] || die "runs table should have 6 rows: $(cat "$out/runs.csv")"
for h in H1 H2a H2b H2c H3 H4 H5; do
    grep -Eq "^\| $h \| .* \| (supported|contradicted|mixed|not enough evidence) \|" "$out/claims.md" ||
        die "claims.md has no verdict for $h"
    grep -Eq "^\| $h \| .* \| (supported|contradicted|mixed|not enough evidence) \|" demo.out ||
        die "the demo did not print the verdict on $h"
done
[ "$(grep -c '^\*\*Verdict: ' "$out/claims.md")" -eq 7 ] || die "claims.md should have 7 verdicts"
[ -s "$out/claims.csv" ] || die "no claims.csv"
grep -q "^## Context" demo.out || die "the demo did not print the context of its claims"
grep -q "unigram baseline" demo.out && grep -q "best validation loss" demo.out || die "demo did not print both losses"
grep -q "mode: Slurm" demo.out || die "demo did not say which mode it used"
[ -z "$(ls cluster/*.pid 2>/dev/null)" ] || die "the demo left its cluster running"
# local mode: the finished runs are reused, not trained again
DEMO_MODE=local "$root/scripts/demo.sh" "$bin" tiny.ini >local.out 2>&1 || die "local demo failed: $(tail -20 local.out)"
grep -q "mode: local" local.out || die "local demo did not say its mode"
grep -q "0 run(s) to run here" local.out || die "local demo trained finished runs again: $(grep 'run(s)' local.out)"
echo "t_demo: ok"
