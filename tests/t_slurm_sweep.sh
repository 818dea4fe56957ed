#!/usr/bin/env bash
# Sweeps on a real (private, single-node) Slurm: a 4-run sweep of tiny models with throttle 2 finishes and
# its dependent aggregation job writes a 4-row table; a run with a bad config ends as failed while the
# others complete and the aggregation still runs, and `resubmit --failed` takes only that run; --dry-run
# splits a sweep larger than MaxArraySize; status's columns, --state and --format json for finished,
# failed, running and pending runs; `il-sweep cancel` empties the queue of a sweep's jobs. RANKS (default
# 2) sets the MPI ranks per run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_slurm_sweep
RANKS=${RANKS:-2}
source "$root/tests/sweep_lib.sh"
slurm_up 4 # MaxArraySize 4: array task ids 0..3, so a 6-run sweep needs two arrays
tiny_corpus --tokenizer byte

common="[fixed]
model.seq_len = 16
model.n_layer = 1
model.n_head = 2
data.train_path = data/train.bin
data.val_path = data/val.bin
train.global_batch = 4
train.micro_batch = 2
train.max_steps = 30
train.threads = 1
optim.warmup_steps = 5
eval.interval = 10
eval.batches = 2
run.log_interval = 10
run.ckpt_interval = 10"

# 1. four runs, at most two at a time, then the aggregation job
printf '[sweep]\nname = four\nranks = %s\ntime = 00:05:00\nthrottle = 2\n%s\n[grid]\nmodel.d_model = 8, 16\ntrain.seed = 1, 2\n' \
    "$RANKS" "$common" >four.ini
"$bin/il-sweep" submit four.ini --out four >submit.out || die "submit failed: $(cat submit.out)"
array=$(awk -F'\t' '$1 == "array" { print $2 }' four/jobs.tsv)
[ -n "$array" ] || die "no array recorded: $(cat submit.out)"
scontrol show job "$array" | grep -q 'ArrayTaskThrottle=2' || die "array $array has no throttle of 2"
most=0
deadline=$((SECONDS + 180))
while [ -n "$(squeue -h -o %i)" ]; do
    [ $SECONDS -lt $deadline ] || die "sweep still queued after 180 s: $(squeue)"
    running=$(squeue -h -r -j "$array" -t RUNNING -o %i | wc -l)
    [ "$running" -le "$most" ] || most=$running
    sleep 0.5
done
[ "$most" -le 2 ] || die "$most runs ran at once despite throttle 2"
"$bin/il-sweep" status four >status.txt
[ "$(count_state four done)" -eq 4 ] || die "not all 4 runs done: $(cat status.txt four/logs/*)"
[ -s four/summary.tsv ] || die "the aggregation job wrote no summary: $(cat four/logs/aggregate_* 2>&1)"
[ "$(tail -n +2 four/summary.tsv | wc -l)" -eq 4 ] || die "summary has not 4 rows: $(cat four/summary.tsv)"
[ "$(awk -F'\t' 'NR > 1 && $5 == "done" && $6 == 30 && $7 != "-" && $8 != "-"' four/summary.tsv | wc -l)" -eq 4 ] ||
    die "summary rows are not all done at step 30 with losses: $(cat four/summary.tsv)"
[ "$(head -1 four/summary.tsv)" = $'index\trun\tmodel.d_model\ttrain.seed\tstate\tlast_step\ttrain_loss\tval_loss' ] ||
    die "summary header: $(head -1 four/summary.tsv)"
grep -q '^| index | run |' four/summary.md || die "no Markdown summary"
# status of finished runs: step/max_steps, exit code 0, the node (Slurm's, or the launch's host when Slurm
# has no accounting), attempt 1, the time limit
"$bin/il-sweep" status four >status.txt
[ "$(awk '$1 ~ /^[0-9]+$/ && $5 == "30/30" && $9 ~ /\/5:00$/ && $10 != "-" && $11 == 0 && $12 == 1' status.txt | wc -l)" -eq 4 ] ||
    die "finished runs' columns: $(cat status.txt)"
[ "$("$bin/il-sweep" status four --state done | grep -c '^[0-9]')" -eq 4 ] || die "--state done: not 4 runs"
[ "$("$bin/il-sweep" status four --state failed,running | grep -c '^[0-9]')" -eq 0 ] || die "--state failed,running shows runs"
"$bin/il-sweep" status four --format json >four.json
/usr/bin/python3 -m json.tool four.json >/dev/null || die "--format json is not JSON: $(cat four.json)"
/usr/bin/python3 - four.json <<'PY' || die "--format json of finished runs: $(cat four.json)"
import json, sys
runs = json.load(open(sys.argv[1]))
assert len(runs) == 4, runs
for r in runs:
    assert r["state"] == "done" and r["step"] == 30 and r["max_steps"] == 30 and r["exit_code"] == 0, r
    assert isinstance(r["node"], str) and r["node"] and r["attempt"] == 1 and r["time_limit_s"] == 300, r
    assert r["tokens_per_s"] > 0 and r["loss"] > 0 and r["val_loss"] > 0, r
PY
for d in four/runs/*/; do
    grep -q "\"world_size\":$RANKS" "$d/launches.jsonl" || die "$d did not run on $RANKS ranks: $(cat "$d/launches.jsonl")"
done
# the same spec again duplicates nothing: every run is done
"$bin/il-sweep" submit four.ini --out four >again.out
grep -q '^# 0 run(s) to submit' again.out || die "resubmission submitted again: $(cat again.out)"
[ "$(grep -c . four/jobs.tsv)" -eq 2 ] || die "resubmission added jobs: $(cat four/jobs.tsv)"

# 2. a bad config (a validation shard that does not exist, past submission's check with check_paths = no)
# fails alone; the aggregation still runs
printf '[sweep]\nname = bad\ncheck_paths = no\nranks = %s\ntime = 00:05:00\nthrottle = 3\n%s\n[list]\ntrain.seed = 1, 2, 3\n%s\n' \
    "$RANKS" "$(grep -v val_path <<<"$common")" "data.val_path = data/val.bin, data/val.bin, data/missing.bin" >bad.ini
"$bin/il-sweep" submit bad.ini --out bad >/dev/null
wait_jobs 180
"$bin/il-sweep" status bad >bad_status.txt
[ "$(count_state bad done)" -eq 2 ] || die "the good runs did not complete: $(cat bad_status.txt)"
[ "$(state_of bad 2)" = failed ] || die "the bad run is not failed: $(cat bad_status.txt)"
[ "$(cat bad/runs/*missing*/exit_code)" = 2 ] || die "the bad run's exit code is not 2 (bad input)"
grep -q 'data/missing.bin' bad/logs/*_2.out || die "the bad run's log does not name the missing file"
[ "$(tail -n +2 bad/summary.tsv | wc -l)" -eq 3 ] || die "aggregation after a failure: $(cat bad/summary.tsv 2>&1)"
[ "$(awk -F'\t' '$1 == 2 { print $5 }' bad/summary.tsv)" = failed ] || die "summary does not show the failure"
[ "$("$bin/il-sweep" status bad --state failed | awk '$1 ~ /^[0-9]+$/ { print $1, $3, $11 }')" = "2 failed 2" ] ||
    die "--state failed: not just run 2 with exit code 2: $("$bin/il-sweep" status bad)"
# resubmit --failed takes exactly that run again; done runs are never rerun
"$bin/il-sweep" resubmit bad --failed >resubmit.out
grep -q '1 failed or preempted' resubmit.out || die "resubmit: $(cat resubmit.out)"
grep -q $'^array\t[0-9]*\t0\t2$' bad/jobs.tsv || die "resubmitted array is not just run 2: $(cat bad/jobs.tsv)"
wait_jobs 120
[ "$(grep -c . bad/runs/s1-*/launches.jsonl)" -eq 1 ] || die "a done run was launched again"

# 3. six runs with MaxArraySize 4 are split into two arrays; the aggregation waits for both
printf '[sweep]\nname = six\ntime = 00:05:00\nthrottle = 2\n%s\n[grid]\nmodel.d_model = 8, 16, 24\ntrain.seed = 1, 2\n' \
    "$common" >six.ini
"$bin/il-sweep" submit six.ini --out six --dry-run >dry.out
[ ! -e six ] || die "--dry-run wrote the sweep directory"
sed -i "s/'//g" dry.out # argument quoting is for display only
grep -q '2 array(s) (MaxArraySize 4 from scontrol' dry.out || die "no split announced: $(grep '^#' dry.out)"
grep -q -- "--array=0-3%2 .*sweep-task.sbatch $tmp/six 0 srun" dry.out || die "first array: $(grep ^sbatch dry.out)"
grep -q -- "--array=0-1%2 .*--dependency=afterany:<array 1> .*sweep-task.sbatch $tmp/six 4 srun" dry.out ||
    die "second array (offset 4, after the first): $(grep ^sbatch dry.out)"
grep -q -- "--dependency=afterany:<array 1>:<array 2> .*aggregate.sbatch" dry.out ||
    die "aggregation does not depend on both arrays: $(grep ^sbatch dry.out)"
[ "$(grep -c $'^[0-9]\t' dry.out)" -eq 6 ] || die "dry run does not print the 6-row manifest"
grep -q '^# ---- sweep-task.sbatch' dry.out || die "dry run does not print the task script"

# 4. a sweep still in the queue: one long run running, two held back by the throttle, the aggregation
# waiting for them. status shows each; cancel takes every job of the sweep out of the queue.
printf '[sweep]\nname = long\nranks = %s\ntime = 00:05:00\nthrottle = 1\n%s\n[list]\ntrain.seed = 1, 2, 3\n' \
    "$RANKS" "$(sed 's/^train.max_steps = .*/train.max_steps = 1000000/' <<<"$common")" >long.ini
"$bin/il-sweep" submit long.ini --out long >/dev/null
jobs=$(awk -F'\t' '{ print $2 }' long/jobs.tsv | tr '\n' ' ')
[ "$(wc -w <<<"$jobs")" -eq 2 ] || die "long: expected an array and an aggregation job: $(cat long/jobs.tsv)"
deadline=$((SECONDS + 120))
until [ "$("$bin/il-sweep" status long --state running | awk '$1 == 0 && $5 ~ /^[0-9]+\/1000000$/' | wc -l)" -eq 1 ]; do
    [ $SECONDS -lt $deadline ] || die "run 0 of long is not training after 120 s: $("$bin/il-sweep" status long)"
    sleep 1
done
"$bin/il-sweep" status long >long.txt
awk '$1 == 0 { exit !($3 == "running" && $9 ~ /^[0-9]+:[0-9][0-9]\/5:00$/ && $10 != "-" && $11 == "-" && $12 == 1 && $13 == "RUNNING") }' long.txt ||
    die "a running run's columns: $(cat long.txt)"
[ "$(awk '$1 ~ /^[12]$/ && $3 == "pending" && $5 == "-/1000000" && $10 == "-" && $13 ~ /^PENDING/' long.txt | wc -l)" -eq 2 ] ||
    die "pending runs' columns: $(cat long.txt)"
[ "$("$bin/il-sweep" status long --state pending,running | grep -c '^[0-9]')" -eq 3 ] || die "--state pending,running"
"$bin/il-sweep" status long --state running --format json >long.json
/usr/bin/python3 - long.json <<'PY' || die "--format json of a running run: $(cat long.json)"
import json, sys
(r,) = json.load(open(sys.argv[1]))
assert r["index"] == 0 and r["state"] == "running" and r["max_steps"] == 1000000 and r["step"] >= 1, r
assert r["elapsed_s"] >= 0 and r["time_limit_s"] == 300 and r["node"] and r["attempt"] == 1, r
assert r["exit_code"] is None and r["slurm"] == "RUNNING", r
PY
"$bin/il-sweep" cancel long --dry-run >cancel_dry.txt || die "cancel --dry-run: $(cat cancel_dry.txt)"
grep -q '^would cancel aggregation job' cancel_dry.txt || die "cancel --dry-run: $(cat cancel_dry.txt)"
[ "$(squeue -h -r -o %F | sort -u | wc -l)" -eq 2 ] || die "cancel --dry-run cancelled: $(squeue)"
"$bin/il-sweep" cancel long >cancel.txt || die "cancel failed: $(cat cancel.txt)"
for j in $jobs; do grep -q "^cancelled .* job $j" cancel.txt || die "cancel does not name job $j: $(cat cancel.txt)"; done
deadline=$((SECONDS + 60))
while [ -n "$(squeue -h -r -o %F | grep -Fx -f <(tr ' ' '\n' <<<"$jobs" | grep .))" ]; do
    [ $SECONDS -lt $deadline ] || die "jobs of the cancelled sweep still queued after 60 s: $(squeue)"
    sleep 1
done
sleep 8 # nothing comes back: the running task checkpoints on scancel's SIGTERM and must not requeue itself
[ -z "$(squeue -h -o %i)" ] || die "jobs queued after cancel: $(squeue)"
"$bin/il-sweep" status long >long.txt
[[ $(state_of long 0) =~ ^(preempted|failed)$ ]] && [ "$(count_state long failed)" -ge 2 ] ||
    die "runs of the cancelled sweep: $(cat long.txt)"
"$bin/il-sweep" cancel long >cancel2.txt || die "cancel of a cancelled sweep failed"
grep -q '^# 0 of the 2 recorded job(s) in the queue' cancel2.txt || die "cancel again: $(cat cancel2.txt)"
