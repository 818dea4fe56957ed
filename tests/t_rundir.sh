#!/usr/bin/env bash
# A run directory is safe to use: one writer at a time (a second il-train names the holder and exits 2);
# Ctrl-C checkpoints and exits 75, a second Ctrl-C stops at once; a start refused for its data or its
# memory leaves no directory behind; temporary files of a writer that died are removed on resume and
# checkpoint pruning keeps run.keep_ckpts; a full disk ends the run with one line naming the file and the
# system's reason, exit 1, the last checkpoint intact; il-ckpt diff exits as cmp does.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_rundir

tiny_corpus
"$bin/il-prepare" --out other --tokenizer byte doc*.txt >/dev/null
tiny_ini >run.ini
cat >>run.ini <<'INI'
[train]
global_batch = 4
micro_batch = 4
max_steps = 6
[optim]
warmup_steps = 2
[trace]
interval = 2
[run]
ckpt_interval = 2
keep_ckpts = 2
log_interval = 1
INI
records() { cat "$1" 2>/dev/null | grep -c '"kind":"train"' || true; }
# start_long NAME [--resume]: a run that trains for a long while in the background; sets pid once it has
# trained 5 more steps
start_long() {
    local before
    before=$(records "runs/$1/metrics.jsonl")
    "$bin/il-train" --config run.ini --set run.name="$1" --set train.max_steps=1000000 --set run.ckpt_interval=0 \
        --set trace.interval=0 "${@:2}" >"$1.out" 2>&1 &
    pid=$!
    until [ "$(records "runs/$1/metrics.jsonl")" -ge $((before + 5)) ]; do
        kill -0 $pid 2>/dev/null || die "$1 ended before it trained: $(tail -3 "$1.out")"
        sleep 0.05
    done
}

# one writer: a second il-train on a run directory in use names the holder and changes nothing
start_long busy
expect_fail il-train "in use by another il-train (host $(hostname), pid $pid)" \
    timeout 60 "$bin/il-train" --config run.ini --set run.name=busy --set train.max_steps=1000000 --set run.ckpt_interval=0 \
    --set trace.interval=0 --resume
# Ctrl-C: like SIGTERM, a checkpoint at the next step boundary and exit 75
kill -INT $pid
rc=0; wait $pid || rc=$?
[ $rc -eq 75 ] || die "SIGINT: exit $rc, expected 75: $(tail -3 busy.out)"
grep -q "stopped by a signal" runs/busy/log.txt || die "SIGINT did not checkpoint"
[ -n "$(ls runs/busy/ckpt)" ] || die "SIGINT left no checkpoint"
# the lock goes with its holder: the run resumes, and stops again on Ctrl-C
start_long busy --resume
kill -INT $pid
rc=0; wait $pid || rc=$?
[ $rc -eq 75 ] || die "resumed after SIGINT: exit $rc, expected 75: $(tail -3 busy.out)"
# a second Ctrl-C stops at once: a model whose steps take long enough for the second signal to land first
"$bin/il-train" --config run.ini --set run.name=twice --set train.max_steps=1000000 --set model.seq_len=256 \
    --set model.d_model=256 --set model.n_head=4 --set model.n_layer=4 --set train.micro_batch=4 \
    --set run.ckpt_interval=0 --set trace.interval=0 >twice.out 2>&1 &
pid=$!
until [ "$(records runs/twice/metrics.jsonl)" -ge 1 ]; do sleep 0.05; done
kill -INT $pid
sleep 0.1
kill -INT $pid 2>/dev/null || true
rc=0; wait $pid || rc=$?
[ $rc -eq 130 ] || die "a second SIGINT did not stop the run at once: exit $rc"
grep -q "stopped by a signal" runs/twice/log.txt && die "the run checkpointed although stopped twice"

# a refused start leaves nothing: unigram counts of another tokenizer, a model too large for memory
expect_fail il-train "counts of another tokenizer" \
    "$bin/il-train" --config run.ini --set run.name=refused1 --set data.counts_path=other/train.counts
[ ! -e runs/refused1 ] || die "a start refused for its counts left runs/refused1 behind"
expect_fail il-train "model.n_layer = 1024, model.d_model = 65536" \
    "$bin/il-train" --config run.ini --set run.name=refused2 --set model.n_layer=1024 --set model.d_model=65536
grep -q "GB per rank" err.txt && grep -q "this rank's share" err.txt || die "no memory estimate: $(cat err.txt)"
[ ! -e runs/refused2 ] || die "a start refused for its size left runs/refused2 behind"
"$bin/il-train" --config run.ini --set run.name=refused1 >/dev/null || die "the refused run cannot be started after the fix"

# temporary files of a writer that died: removed on resume, and pruning keeps keep_ckpts = 2
"$bin/il-train" --config run.ini --set run.name=tmp --set train.max_steps=400 >tmp.out 2>&1 &
pid=$!
until [ "$(records runs/tmp/metrics.jsonl)" -ge 8 ]; do sleep 0.02; done
kill -INT $pid
rc=0; wait $pid || rc=$?
[ $rc -eq 75 ] || die "SIGINT: exit $rc, expected 75"
[ "$(ls runs/tmp/ckpt | wc -l)" -eq 2 ] || die "keep_ckpts = 2, but: $(ls runs/tmp/ckpt | tr '\n' ' ')"
newest=$(ls runs/tmp/ckpt | tail -1)
mkdir runs/tmp/ckpt/step_00000001 # a save that died before its marker
head -c 5000 /dev/zero >runs/tmp/ckpt/step_00000001/state.ckpt.tmp.999999
head -c 5000 /dev/zero >"runs/tmp/ckpt/$newest/state.ckpt.tmp.999998" # and one beside a complete save
echo partial >runs/tmp/config.ini.tmp.999997
"$bin/il-train" --config run.ini --set run.name=tmp --set train.max_steps=400 --resume >resume.out
grep -q "removed 3 temporary files left by a writer that died" runs/tmp/log.txt || die "stale files not reported: $(cat resume.out)"
[ -z "$(find runs/tmp -name '*.tmp.*')" ] || die "temporary files left: $(find runs/tmp -name '*.tmp.*')"
[ "$(ls runs/tmp/ckpt | tr '\n' ' ')" = "step_00000398 step_00000400 " ] ||
    die "after resume, checkpoints are $(ls runs/tmp/ckpt | tr '\n' ' '), expected steps 398 and 400 only"

# il-ckpt diff: 0 the same, 1 different, 2 bad input
"$bin/il-ckpt" diff runs/tmp/ckpt/step_00000400 runs/tmp/ckpt/step_00000400 >/dev/null || die "il-ckpt diff of a checkpoint with itself failed"
rc=0; "$bin/il-ckpt" diff runs/tmp/ckpt/step_00000398 runs/tmp/ckpt/step_00000400 >/dev/null || rc=$?
[ $rc -eq 1 ] || die "il-ckpt diff of different checkpoints: exit $rc, expected 1"
expect_fail il-ckpt "nosuch" "$bin/il-ckpt" diff nosuch runs/tmp/ckpt/step_00000400

# a full disk: a 1 MB file system of the test's own, in a mount namespace of its own
unshare -m true 2>/dev/null || die "this test needs root for a private mount namespace (unshare -m)"
mkdir small
full_disk() { # full_disk CKPT_INTERVAL [TENSORBOARD]: trains into small/ until the disk is full; results in full.*
    unshare -m sh -c "mount -t tmpfs -o size=1m tmpfs small && cd '$tmp' &&
        '$bin/il-train' --config run.ini --set run.out_dir=small --set run.name=full --set trace.interval=1 \
            --set trace.log_spaced=0 --set trace.sync_every=1 --set model.d_model=32 --set train.max_steps=100000 \
            --set run.keep_ckpts=1 --set run.ckpt_interval=$1 --set run.tensorboard=${2:-1} >full.out 2>full.err; echo \$? >full.rc
        last=\$(ls -d small/full/ckpt/step_*/COMPLETE 2>/dev/null | tail -1)
        [ -z \"\$last\" ] || '$bin/il-ckpt' info \"\${last%/COMPLETE}\" >full.ckpt 2>&1"
    [ "$(cat full.rc)" -eq 1 ] || die "full disk (checkpoints every $1): exit $(cat full.rc), expected 1: $(cat full.err)"
    [ "$(wc -l <full.err)" -eq 1 ] || die "full disk: not one line of error: $(cat full.err)"
    grep -q "^il-train: small/full/.*: No space left on device$" full.err || die "full disk: $(cat full.err)"
    grep -q "MPI_ABORT" full.out full.err && die "full disk: the run aborted instead of stopping cleanly"
    return 0
}
full_disk 0 0 # the trace fills the disk (with no TensorBoard file, whose writes could meet it first)
grep -q "trace/rank0000.seg0000.nc: cannot write the trace" full.err || die "full disk: not the trace: $(cat full.err)"
full_disk 25 # checkpoints along the way: the last complete one reads back whole
grep -q "section params" full.ckpt || die "full disk: the last checkpoint does not read back: $(cat full.ckpt 2>/dev/null)"
echo "$name: ok"
