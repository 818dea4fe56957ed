#!/usr/bin/env bash
# Sweeps on a real (private, single-node) Slurm: a 4-run sweep of tiny models with throttle 2 finishes and
# its dependent aggregation job writes a 4-row table; a run with a bad config ends as failed while the
# others complete and the aggregation still runs, and `resubmit --failed` takes only that run; --dry-run
# splits a sweep larger than MaxArraySize. RANKS (default 2) sets the MPI ranks per run.
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
for d in four/runs/*/; do
    grep -q "\"world_size\":$RANKS" "$d/launches.jsonl" || die "$d did not run on $RANKS ranks: $(cat "$d/launches.jsonl")"
done
# the same spec again duplicates nothing: every run is done
"$bin/il-sweep" submit four.ini --out four >again.out
grep -q '^# 0 run(s) to submit' again.out || die "resubmission submitted again: $(cat again.out)"
[ "$(grep -c . four/jobs.tsv)" -eq 2 ] || die "resubmission added jobs: $(cat four/jobs.tsv)"

# 2. a bad config (a validation shard that does not exist) fails alone; the aggregation still runs
printf '[sweep]\nname = bad\nranks = %s\ntime = 00:05:00\nthrottle = 3\n%s\n[list]\ntrain.seed = 1, 2, 3\n%s\n' \
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
