#!/usr/bin/env bash
# Traces survive a crash: SIGKILL a 2-rank traced run mid-way; every rank's trace file still opens and
# holds at least every record up to its last sync (the last checkpoint's step at least, since checkpoints
# sync). The resumed run writes a new segment, and the segments together, with the schema's merging rule
# (a record is superseded when a later segment holds its step: src/trace/segrule.h), cover each
# trace step exactly once per rank. When the run finishes, each rank's segments become one consolidated file
# that holds every step once, and il-aggregate reads it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_trace_crash

tiny_corpus
args=(--set data.train_path=data/train.bin --set data.val_path=data/val.bin --set model.seq_len=16
      --set model.n_layer=2 --set model.d_model=32 --set train.global_batch=8 --set train.micro_batch=4
      --set train.max_steps=400 --set optim.warmup_steps=5 --set eval.interval=50 --set run.name=r
      --set run.ckpt_interval=20 --set trace.interval=1 --set trace.log_spaced=0 --set trace.sync_every=7)
records() { cat "$1" 2>/dev/null | grep -c '"kind":"train"'; }
steps_of() { ncdump -v step "$1" | sed -n '/^ step = /,/;/p' | tr -d ' step=;\n' | tr ',' '\n' | grep -v '^$'; }

mpirun -n 2 --oversubscribe "$bin/il-train" "${args[@]}" >run1.out 2>&1 &
pid=$!
until [ "$(records runs/r/metrics.jsonl)" -ge 90 ]; do
    kill -0 $pid 2>/dev/null || die "run ended before the kill: $(tail -3 run1.out)"
    sleep 0.02
done
pkill -KILL -P $pid il-train || true
wait $pid || true
last_ckpt=$(ls runs/r/ckpt | grep -v tmp | sort | tail -1)
last_ckpt=$((10#${last_ckpt#step_}))
[ "$last_ckpt" -lt 400 ] || die "the run finished before the kill"
for r in 0 1; do
    f=runs/r/trace/rank000$r.seg0000.nc
    ncdump -h "$f" >/dev/null || die "$f does not open after SIGKILL"
    n=$(steps_of "$f" | wc -l)
    # records 0..n-1 are steps 0..n-1 (every step is traced); the checkpoint at step c follows the trace of
    # step c and synced steps 0..c
    [ "$n" -gt "$last_ckpt" ] || die "$f holds $n records, fewer than the $((last_ckpt + 1)) synced at the last checkpoint"
    [ "$(steps_of "$f" | tail -1)" -eq $((n - 1)) ] || die "$f: steps are not 0..$((n - 1))"
done

mpirun -n 2 --oversubscribe "$bin/il-train" "${args[@]}" --resume >run2.out 2>&1 || die "resume failed: $(tail -3 run2.out)"
grep -q "resumed at step $last_ckpt" run2.out || die "did not resume at $last_ckpt: $(grep resumed run2.out)"
# the finished run consolidated each rank's segments into rankRRRR.nc: every step once, in order, and the
# values of the record that counts (the later segment's) where a step was replayed
grep -q "trace: the segments of 2 ranks consolidated" runs/r/log.txt || die "no consolidation: $(tail -3 runs/r/log.txt)"
for r in 0 1; do
    f=runs/r/trace/rank000$r.nc
    [ ! -e runs/r/trace/rank000$r.seg0000.nc ] && [ ! -e runs/r/trace/rank000$r.seg0001.nc ] ||
        die "rank $r's segments were not removed"
    steps_of "$f" >merged.txt
    seq 0 400 | cmp -s - merged.txt || die "rank $r: $f does not hold steps 0..400 exactly once"
    ncdump -h "$f" >header.txt
    grep -q ':segment = -1' header.txt || die "$f is not marked consolidated"
    grep -q 'consolidated_from = "segment 0: start step 0, .*segment 1: start step '"$last_ckpt" header.txt ||
        die "$f does not say which segments it came from"
done
"$bin/il-aggregate" --out agg runs >agg.out 2>&1 || die "il-aggregate on the consolidated run: $(tail -3 agg.out)"
[ "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "steps") c = i } NR == 2 { print $c }' agg/runs.csv)" = 400 ] || die "runs.csv: $(cat agg/runs.csv)"
echo "t_trace_crash: ok"
