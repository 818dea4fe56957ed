#!/usr/bin/env bash
# TensorBoard event files (src/core/tbevents.h) read by a reader that is not il-train's: protoc compiles the
# public field numbers of TensorBoard's Event and Summary (tests/tensorboard/*.proto), and tests/tb_read.py
# parses every record with Debian's google.protobuf, checks both CRC32Cs of each with its own CRC, and
# matches every scalar, step and value, against metrics.jsonl and the trace: a traced run, and a run resumed
# from an earlier checkpoint, whose replayed steps TensorBoard must take from the later launch.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_tensorboard

mkdir pb
protoc -I"$here/tensorboard" --python_out=pb event.proto summary.proto
tiny_corpus
tiny_ini >run.ini
cat >>run.ini <<'INI'
[train]
global_batch = 4
micro_batch = 2
max_steps = 6
[optim]
warmup_steps = 2
[eval]
interval = 3
batches = 1
[trace]
interval = 4
probe_windows = 4
probe_groups = 2
[run]
ckpt_interval = 3
INI
read_tb() { /usr/bin/python3 "$here/tb_read.py" pb "$1" >read.out 2>&1 || die "$1: $(cat read.out)"; }

# a traced run on 2 ranks: train, val (with genres) and trace scalars, written live by rank 0 alone (tb/
# holds one file per launch); the trace's run-wide statistics are the consolidated trace's
mpirun -n 2 --oversubscribe "$bin/il-train" --config run.ini --set run.name=traced --set train.micro_batch=1 >/dev/null
read_tb runs/traced
grep -q '^tb_read: 1 files' read.out || die "expected one events file: $(cat read.out)"

# a run whose last checkpoint is lost resumes at step 3 and trains 4..6 again, into a second file
"$bin/il-train" --config run.ini --set run.name=resumed --set trace.interval=0 >/dev/null
rm -r runs/resumed/ckpt/step_00000006
"$bin/il-train" --config run.ini --set run.name=resumed --set trace.interval=0 --resume >/dev/null
read_tb runs/resumed
grep -q '^tb_read: 2 files' read.out || die "expected two events files: $(cat read.out)"

# run.tensorboard = 0: no tb/
"$bin/il-train" --config run.ini --set run.name=off --set trace.interval=0 --set run.tensorboard=0 >/dev/null
[ ! -e runs/off/tb ] || die "run.tensorboard = 0 wrote runs/off/tb"
echo "$name: ok"
