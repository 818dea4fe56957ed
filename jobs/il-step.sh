#!/usr/bin/env bash
# il-step.sh EXIT_FILE CMD [ARGS...]: runs one trainer job step for a batch script, turning Slurm's warning
# signal into a checkpoint and a requeue. The batch scripts in jobs/ `exec` it, so it *is* the batch shell
# (same PID) and receives what `--signal=B:USR2@N` sends there.
#
# Why it is written this way:
#  - A shell runs a trap only between commands, so the step runs in the background and the shell waits.
#    A trapped signal makes `wait` return early; the trap forwards the signal to the step (srun and
#    mpirun pass USR2, TERM and HUP on to every rank), and the loop waits again until the step has
#    written its checkpoint and exited.
#  - il-train exits 75 after such a checkpoint. If the job was submitted with --requeue, it requeues
#    itself, and its next start runs `il-train --resume` from that checkpoint (Slurm holds a requeued job
#    back for its credential lifetime, about 2 minutes by default). Without --requeue the run stays
#    preempted until resubmitted: `il-sweep resubmit DIR --failed`, or the same sbatch command again.
#  - EXIT_FILE ('-' for none) receives the step's exit code, so that `il-sweep status` can tell done,
#    failed and preempted runs apart without Slurm's accounting database.
#  - mpirun may exit 1 when its ranks exit 75 after a checkpoint. The trainer's rank 0 therefore writes
#    its own exit code to IL_EXIT_STATUS_FILE, and a 75 there stands for the step when the launcher
#    reported a failure.
set -u
exit_file=$1
shift
# beside the exit file, or in the working directory: where rank 0 can write it on whichever node it runs
if [ "$exit_file" != - ]; then IL_EXIT_STATUS_FILE=$exit_file.trainer
else IL_EXIT_STATUS_FILE=$PWD/.il-step-${SLURM_JOB_ID:-$$}.status; fi
export IL_EXIT_STATUS_FILE
mkdir -p "$(dirname "$IL_EXIT_STATUS_FILE")"
rm -f "$IL_EXIT_STATUS_FILE"
trap 'rm -f "$IL_EXIT_STATUS_FILE"' EXIT

"$@" &
step=$!
interrupted=0
forward() {
    interrupted=1
    echo "il-step: SIG$1 received, forwarding it to the step (pid $step)"
    kill -s "$1" "$step" 2>/dev/null || true
}
for sig in USR2 TERM HUP INT; do trap "forward $sig" "$sig"; done

while :; do
    interrupted=0
    wait "$step"
    rc=$?
    [ "$interrupted" = 1 ] || break # returned because the step ended, not because of a trap
done
if [ "$rc" != 0 ] && [ "$(cat "$IL_EXIT_STATUS_FILE" 2>/dev/null)" = 75 ]; then
    echo "il-step: the launcher exited $rc, but the trainer stopped with a checkpoint: exit 75"
    rc=75
fi

if [ "$exit_file" != - ]; then
    mkdir -p "$(dirname "$exit_file")"
    echo "$rc" >"$exit_file.tmp" && mv "$exit_file.tmp" "$exit_file"
fi
if [ "$rc" = 75 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    if scontrol show job "$SLURM_JOB_ID" | grep -q 'Requeue=1' && scontrol requeue "$SLURM_JOB_ID"; then
        echo "il-step: checkpoint written; job $SLURM_JOB_ID requeued, it resumes from the checkpoint"
    else
        echo "il-step: checkpoint written; job $SLURM_JOB_ID is not requeueable: resubmit it to resume" >&2
    fi
fi
exit "$rc"
