#!/usr/bin/env bash
# A real 2-rank traced run of 400 updates aggregates end to end: il-train writes the traces, il-aggregate
# merges the two ranks and reports one run with a norms and inner row per depth and every traced step in
# summary.nc. It runs on the default schedule (powers of two below the stride of 50, then the stride) with
# a sparse sub-schedule of every 3rd trace step: the sparse variables are fills elsewhere, and the
# aggregation reads them from the steps recorded, as it would read a trace of those steps alone. And one step convention everywhere (step k: after k updates, step 0 the initialisation): the
# log, metrics.jsonl, the checkpoints, the traces, runs.csv and summary.nc all end at step 400, and the
# runs table counts 400 x global batch x T tokens.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_aggregate_train

tiny_corpus
N=400 GB=8 T=16
mpirun -n 2 --oversubscribe "$bin/il-train" --set data.train_path=data/train.bin --set data.val_path=data/val.bin \
    --set model.seq_len=$T --set model.n_layer=2 --set model.d_model=32 --set train.global_batch=$GB \
    --set train.micro_batch=4 --set train.max_steps=$N --set optim.warmup_steps=5 --set eval.interval=100 \
    --set eval.batches=1 --set trace.interval=50 --set trace.full_every=3 --set trace.probe_windows=16 \
    --set trace.probe_groups=4 --set run.ckpt_interval=200 --set run.name=real >train.out
rc=0
"$bin/il-aggregate" --out out runs >agg.out 2>&1 || rc=$?
[ $rc -eq 0 ] || die "il-aggregate exited $rc: $(tail -5 agg.out)"
[ "$(grep -c '^real,' out/runs.csv)" -eq 1 ] || die "runs.csv lacks the run: $(cat out/runs.csv)"
col() { awk -F, -v k="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i } NR == 2 { print $c }' out/runs.csv; }
[ "$(col ranks)" = 2 ] || die "runs.csv says $(col ranks) ranks"
[ "$(grep -c '^real,' out/norms.csv)" -eq 3 ] || die "norms.csv should have a row per depth (3)"
[ "$(grep -c '^real,' out/inner.csv)" -ge 2 ] || die "inner.csv lacks the run's blocks"
for h in H1 H2a H2b H2c H3 H4 H5; do grep -q "$h" out/claims.md || die "claims.md has no $h"; done
# every statistic of a real run is known (growth has no depth below 0)
empty=$(awk -F, 'NR == 1 { for (i = 3; i <= NF; i++) name[i] = $i; next }
    { for (i = 3; i <= NF; i++) if ($i == "" && !(name[i] == "growth" && $2 == 0)) print name[i] " at depth " $2 }' out/norms.csv)
[ -z "$empty" ] || die "norms.csv has unknown values: $empty"
# the merge weights: each rank's probe tokens, every one in a bucket and (lens on every position) a genre
for r in 0 1; do
    f=runs/real/trace/rank000$r.nc
    sum() { ncdump -v "$1" "$f" | sed -n "/^ $1 = /,/;/p" | tr -d "$1 =;\n}" | tr ',' '\n' | awk '{ s += $1 } END { print s }'; }
    want=$(( $(sum windows) * T ))
    [ "$want" -gt 0 ] && [ "$(sum bucket_tokens)" = "$want" ] && [ "$(sum genre_tokens)" = "$want" ] ||
        die "$f: bucket_tokens sum $(sum bucket_tokens), genre_tokens sum $(sum genre_tokens), expected $want"
done

# the step convention
run=runs/real
grep -q "^done: step $N," "$run/log.txt" 2>/dev/null || grep -q "done: step $N," train.out ||
    die "the log does not end at step $N: $(tail -1 train.out)"
train_steps=$(grep '"kind":"train"' "$run/metrics.jsonl" | sed 's/.*"step":\([0-9]*\).*/\1/')
[ "$(echo "$train_steps" | head -1)" = 1 ] || die "metrics.jsonl: the first train line is not step 1"
[ "$(echo "$train_steps" | tail -1)" = $N ] || die "metrics.jsonl: the last train line is not step $N"
[ "$(echo "$train_steps" | wc -l)" = $N ] || die "metrics.jsonl: not one train line per update"
val_steps=$(grep '"kind":"val"' "$run/metrics.jsonl" | sed 's/.*"step":\([0-9]*\).*/\1/' | tr '\n' ' ')
[ "$val_steps" = "0 100 200 300 400 " ] || die "metrics.jsonl: validations at steps $val_steps"
[ -d "$run/ckpt/step_$(printf %08d $N)" ] || die "no checkpoint of step $N: $(ls "$run/ckpt")"
"$bin/il-ckpt" info "$run/ckpt/step_$(printf %08d $N)" | grep -qx "  step: $N" ||
    die "il-ckpt info does not say step $N: $("$bin/il-ckpt" info "$run/ckpt/step_$(printf %08d $N)" | head -5)"
for r in 0 1; do
    steps=$(ncdump -v step "$run/trace/rank000$r.nc" | sed -n '/^ step = /,/;/p' | tr -d ' step=;\n}')
    [ "$steps" = "0,1,2,4,8,16,32,50,100,150,200,250,300,350,400" ] || die "rank $r traced steps $steps"
done
# the sub-schedule: ordinals 0, 3, 6, 9, 12 and the last step are full (steps 0, 4, 32, 150, 300, 400); the
# sparse variables are the fill (NaN) at the other steps and measured at those, the others everywhere
full=" 1 0 0 1 0 0 1 0 0 1 0 0 1 0 1"
per_step() { # 1 where the step's record of variable $1 holds a value, 0 where it is all NaN (rank 0's file)
    /usr/bin/python3 -c "import netCDF4, numpy
v = netCDF4.Dataset('$run/trace/rank0000.nc')['$1'][:].filled(numpy.nan).reshape(15, -1)
print(''.join(' %d' % (not numpy.isnan(r).all()) for r in v))"
}
for v in erank rho_freq rho_freq_jk lens_genre cos_local_genre singular_value; do
    [ "$(per_step $v)" = "$full" ] || die "$v recorded at $(per_step $v), not at the full steps$full"
done
for v in norm cos grad0 eta; do
    [ "$(per_step $v)" = " 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1" ] || die "$v missing at some trace steps: $(per_step $v)"
done
grep -q "trace: 15 trace steps in this launch, 6 full, 9 without S9, H4 and the genres (trace.full_every = 3)" \
    "$run/log.txt" || die "the log does not count the full and thin trace steps: $(grep 'trace:' "$run/log.txt")"
# the fills are skipped, not data: the run's files with only the full records aggregate to the same H4
# verdicts and statistics, and the same effective rank at the end and its trend; and a live run whose last
# record is not full takes them from its last full step, as the same files cut after that step do
cut_to() { # DIR RECORDS: a copy of the run with only those records (ncks hyperslabs of the step dimension)
    mkdir -p "$1/real/trace" && cp "$run/config.ini" "$1/real/"
    for r in 0 1; do ncks -O -h $2 "$run/trace/rank000$r.nc" "$1/real/trace/rank000$r.nc"; done
}
cut_to full "-d step,0,0 -d step,3,3 -d step,6,6 -d step,9,9 -d step,12,12 -d step,14,14"
cut_to live "-d step,0,13"
cut_to upto "-d step,0,12"
for d in full live upto; do
    rc=0; "$bin/il-aggregate" --out "agg_$d" "$d" >"$d.out" 2>&1 || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 3 ] || die "il-aggregate of the $d copy exited $rc: $(tail -3 "$d.out")"
done
h4() { grep '^H4,' "$1/claims.csv" | sed 's/,[^,]*\/[^,]*,/,/'; }
[ -n "$(h4 out)" ] && [ "$(h4 out)" = "$(h4 agg_full)" ] ||
    die "H4 with fills differs from H4 on the full steps alone: $(h4 out) against $(h4 agg_full)"
cols() { awk -F, -v want="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ want) c[i] = 1; next }
    { for (i in c) printf "%s ", $i; print "" }' "$1"; }
[ "$(cols out/inner.csv erank)" = "$(cols agg_full/inner.csv erank)" ] ||
    die "inner.csv's erank with fills differs: $(cols out/inner.csv erank) against $(cols agg_full/inner.csv erank)"
[ -n "$(cols agg_live/norms.csv rho_freq | tr -d ' \n')" ] &&
    [ "$(cols agg_live/norms.csv rho_freq)" = "$(cols agg_upto/norms.csv rho_freq)" ] &&
    [ "$(cols agg_live/inner.csv erank_end)" = "$(cols agg_upto/inner.csv erank_end)" ] ||
    die "a run ending on a thin step: rho_freq $(cols agg_live/norms.csv rho_freq), from its last full step $(cols agg_upto/norms.csv rho_freq)"
[ "$(col steps)" = $N ] || die "runs.csv: steps $(col steps), expected $N"
[ "$(col tokens)" = $((N * GB * T)) ] || die "runs.csv: tokens $(col tokens), expected $((N * GB * T))"
n=$(ncdump -h out/summary.nc | sed -n 's/^\tstep = \([0-9]*\) ;/\1/p')
[ "$n" = 15 ] || die "summary.nc has $n steps for the run, expected 15"
last=$(ncdump -v step out/summary.nc | sed -n '/^ step =/,/;/p' | tr -d ' \n;}' | sed 's/.*,//')
[ "$last" = $N ] || die "summary.nc: the last step is $last, expected $N"
echo "t_aggregate_train: ok"
