#!/usr/bin/env bash
# A real 2-rank traced run aggregates end to end: il-train writes the traces, il-aggregate merges the two
# ranks and reports one run with a norms and inner row per depth and every traced step in summary.nc.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_aggregate_train

tiny_corpus
mpirun -n 2 --oversubscribe "$bin/il-train" --set data.train_path=data/train.bin --set data.val_path=data/val.bin \
    --set model.seq_len=16 --set model.n_layer=2 --set model.d_model=32 --set train.global_batch=8 \
    --set train.micro_batch=4 --set train.max_steps=30 --set optim.warmup_steps=5 --set eval.eval_interval=10 \
    --set trace.interval=5 --set trace.log_spaced=0 --set run.name=real >train.out
rc=0
"$bin/il-aggregate" --out out runs >agg.out 2>&1 || rc=$?
[ $rc -eq 0 ] || die "il-aggregate exited $rc: $(tail -5 agg.out)"
[ "$(grep -c '^real,' out/runs.csv)" -eq 1 ] || die "runs.csv lacks the run: $(cat out/runs.csv)"
ranks=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ranks") c = i } NR == 2 { print $c }' out/runs.csv)
[ "$ranks" = 2 ] || die "runs.csv says $ranks ranks"
[ "$(grep -c '^real,' out/norms.csv)" -eq 3 ] || die "norms.csv should have a row per depth (3)"
[ "$(grep -c '^real,' out/inner.csv)" -ge 2 ] || die "inner.csv lacks the run's blocks"
# steps 0, 5, 10, 15, 20, 25 and the last, 29
n=$(ncdump -v n_step out/summary.nc | sed -n 's/^ n_step = \([0-9]*\) ;/\1/p')
[ "$n" = 7 ] || die "summary.nc has $n steps for the run, expected 7"
for h in H1 H2a H2b H2c H3 H4 H5; do grep -q "$h" out/claims.md || die "claims.md has no $h"; done
echo "t_aggregate_train: ok"
