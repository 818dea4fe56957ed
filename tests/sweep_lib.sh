# Shared by the sweep tests (tests/t_sweep.sh, tests/t_slurm_*.sh); source it after lib.sh, with `bin`,
# `root` and `tmp` set and the current directory inside $tmp.

# The trainer keys of the requeue tests' model: 2 blocks of width 64 at T = 32 on tiny_corpus's data, one
# thread per rank, a global batch of 8 (section.key = value lines, for a spec's [fixed]).
small_model="model.seq_len = 32
model.n_layer = 2
model.n_head = 2
model.d_model = 64
data.train_path = data/train.bin
data.val_path = data/val.bin
train.global_batch = 8
train.micro_batch = 4
train.threads = 1
optim.warmup_steps = 5"

# A private Slurm in $tmp/slurm, stopped (by PID) when the test exits, however it exits.
# slurm_up MAX_ARRAY_SIZE: the requeue hold is cut to a few seconds so that a requeue test stays short.
slurm_up() {
    cluster=$tmp/slurm
    trap '"$root/jobs/slurm-local.sh" stop "$cluster" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
    SLURM_LOCAL_MAX_ARRAY=$1 SLURM_LOCAL_REQUEUE_HOLD=5 "$root/jobs/slurm-local.sh" start "$cluster" >/dev/null ||
        die "could not start a private Slurm (see $cluster/log)"
    source "$cluster/env"
}

# wait_jobs SECONDS: until this cluster's queue is empty; fails the test at the deadline.
wait_jobs() {
    local deadline=$((SECONDS + $1))
    while [ -n "$(squeue -h -o %i)" ]; do
        [ $SECONDS -lt $deadline ] || die "jobs still queued after $1 s: $(squeue -h -o '%i %T %r')"
        sleep 1
    done
}

# state_of DIR RUN_INDEX: the state column of `il-sweep status DIR`; count_state DIR STATE: runs in STATE
state_of() { "$bin/il-sweep" status "$1" | awk -v i="$2" '$1 == i { print $3 }'; }
count_state() { "$bin/il-sweep" status "$1" | awk -v s="$2" '$1 ~ /^[0-9]+$/ && $3 == s' | wc -l; }
