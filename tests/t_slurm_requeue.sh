#!/usr/bin/env bash
# A sweep run whose time limit expires mid-training, on a real (private) Slurm: the batch shell receives
# the warning signal (--signal=B:USR2@75), forwards it, il-train checkpoints and exits 75, the task
# requeues itself, resumes from that checkpoint, and ends with exactly the parameters of an uninterrupted
# run of the same config. RANKS (default 2) sets the MPI ranks.
#
# slurmctld sends the warning at its first time-limit check (one every 30 s) once less than S + 30 s
# remain, so with a 2-minute limit and S = 75 it comes 15 to 45 s into an attempt. The run is sized to
# take about 45 s outside Slurm (inside, it runs slower): the first attempt is always interrupted, and
# later ones may be too, which the test allows (each attempt progresses at least 15 s). The uninterrupted
# reference runs after the Slurm run, so that the two do not share the cores.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_slurm_requeue
RANKS=${RANKS:-2}
source "$root/tests/sweep_lib.sh"
slurm_up 1001
tiny_corpus --tokenizer byte

fixed="[fixed]
$small_model
eval.interval = 0
run.log_interval = 10
run.ckpt_interval = 0"
train() { mpirun -n "$RANKS" --oversubscribe "$bin/il-train" "$@"; }

# how many steps take about 45 s here: the wall time of 1000 steps less that of 100 (start-up cancels)
sets=()
for kv in $(grep ' = ' <<<"$fixed" | sed 's/ = /=/'); do sets+=(--set "$kv"); done
wall_ms() {
    local t0=$(date +%s%N)
    train "${sets[@]}" --set train.max_steps="$1" --set run.out_dir="probe$1" >/dev/null
    echo $((($(date +%s%N) - t0) / 1000000))
}
t100=$(wall_ms 100)
t1000=$(wall_ms 1000)
steps=$((45000 * 900 / (t1000 > t100 ? t1000 - t100 : 1)))
[ "$steps" -ge 40 ] || steps=40

printf '[sweep]\nname = rq\nranks = %s\ntime = 2\nsignal_seconds = 75\nrequeue = yes\n%s\ntrain.max_steps = %s\n[grid]\ntrain.seed = 7\n' \
    "$RANKS" "$fixed" "$steps" >rq.ini
"$bin/il-sweep" submit rq.ini --out rq >submit.out || die "submit failed: $(cat submit.out)"
run=$(awk -F'\t' 'NR == 2 { print $2 }' rq/manifest.tsv)

seen=""
deadline=$((SECONDS + 400))
while [ -n "$(squeue -h -o %i)" ]; do
    [ $SECONDS -lt $deadline ] || die "still queued after 400 s: $(squeue; cat rq/logs/*)"
    state=$(state_of rq 0)
    [ "$state" = "${seen##* }" ] || seen="$seen $state"
    sleep 1
done
# the same config, uninterrupted, outside Slurm
train --config "rq/configs/$run.ini" --set run.out_dir="$tmp/ref" >ref.out 2>&1 || die "reference run: $(cat ref.out)"
echo "$steps steps; states seen:$seen; attempts started at steps" \
    $(sed 's/.*"start_step":\([0-9]*\).*/\1/' rq/runs/*/launches.jsonl)
log=$(cat rq/logs/*_0.out)

grep -q 'SIGUSR2 received' <<<"$log" || die "the batch shell got no warning signal: $log"
grep -q 'requeued' <<<"$log" || die "the task did not requeue itself: $log"
[[ " $seen " == *" requeued "* ]] || die "il-sweep status never showed the run requeued (saw:$seen)"
[ "$(state_of rq 0)" = done ] || die "the run did not end done: $("$bin/il-sweep" status rq)"
launches=$(grep -c . "rq/runs/$run/launches.jsonl")
[ "$launches" -ge 2 ] || die "expected at least 2 launches, got $launches"
grep -q '"SLURM_RESTART_COUNT":"\?1"\?' "rq/runs/$run/launches.jsonl" || die "no launch with restart count 1"
second_start=$(sed -n 2p "rq/runs/$run/launches.jsonl" | sed 's/.*"start_step":\([0-9]*\).*/\1/')
[ "$second_start" -gt 0 ] && [ "$second_start" -lt "$steps" ] ||
    die "the second attempt started at step $second_start, not mid-training (of $steps)"
final=$(printf 'step_%08d' "$steps")
[ -f "rq/runs/$run/ckpt/$final/COMPLETE" ] || die "no final checkpoint $final: $(ls "rq/runs/$run/ckpt")"
"$bin/il-ckpt" diff "ref/$run/ckpt/$final" "rq/runs/$run/ckpt/$final" >diff.out ||
    die "requeued run differs from the uninterrupted one: $(cat diff.out) (interrupted at $second_start of $steps)"
