#!/usr/bin/env bash
# Tool-level test of il-train and il-eval: a short run end to end on a prepared text corpus, and every
# bad input (config, data, run directory, checkpoint) ends with exit 2 and one line naming the culprit,
# with nothing the user had overwritten.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_train

tiny_corpus
"$bin/il-prepare" --out other --tokenizer byte doc*.txt >/dev/null

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
batches = 2
[run]
name = r1
log_interval = 1
ckpt_interval = 3
INI

# a run, its files, and the effective config reading back as a config
"$bin/il-train" --config run.ini >train.out
for f in config.ini log.txt metrics.jsonl launches.jsonl ckpt/step_00000003/COMPLETE ckpt/step_00000006/state.ckpt; do
    [ -s "runs/r1/$f" ] || die "runs/r1/$f missing"
done
grep -q '"kind":"val","step":6' runs/r1/metrics.jsonl || die "no validation record at the last step"
[ "$(grep -c '"kind":"train"' runs/r1/metrics.jsonl)" -eq 6 ] || die "expected 6 train records"
grep -q '"git_commit"' runs/r1/launches.jsonl || die "launch provenance lacks the commit"
if head=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null); then # built in a checkout: its commit
    grep -q "\"git_commit\":\"$head" runs/r1/launches.jsonl || die "launch provenance names another commit than $head"
fi
grep -q '^vocab_size = 300$' runs/r1/config.ini || die "effective config does not record the vocab taken from data"
"$bin/il-train" --config runs/r1/config.ini --set run.name=r2 >/dev/null
for r in r1 r2; do "$bin/il-eval" --checkpoint runs/$r/ckpt/step_00000006 --data data/val.bin | sed 's/^[^:]*://' >$r.eval; done
grep -q "loss" r1.eval || die "il-eval printed no loss"
cmp r1.eval r2.eval || die "the same config trained twice scores differently"
# tracing only measures: a run traced at every step ends with the parameters of an untraced one, bit for bit
# (with the progress line, which is redrawn before and after each trace step, even between log lines)
IL_PROGRESS=1 "$bin/il-train" --config run.ini --set run.name=traced --set trace.interval=1 --set trace.probe_windows=4 \
    --set trace.probe_groups=2 --set run.log_interval=1000 >traced.out
tr '\r' '\n' <traced.out >traced.lines
for k in 2 3 4 5; do
    grep -q "^step $k/6 tracing | loss [0-9.]* |.*| ETA [0-9]*m[0-9]*s" traced.lines || die "no progress line of step $k tracing"
    grep -A1 "^step $k/6 tracing" traced.lines | tail -1 | grep -q "^step $k/6 | loss" ||
        die "the progress line of step $k is not redrawn after its trace"
done
"$bin/il-train" --config run.ini --set run.name=untraced --set trace.interval=0 >/dev/null
"$bin/il-ckpt" diff runs/traced/ckpt/step_00000006 runs/untraced/ckpt/step_00000006 >diff.out ||
    die "tracing changed the training: $(cat diff.out)"
[ "$(ls runs/traced/trace)" ] && [ -z "$(ls runs/untraced/trace 2>/dev/null)" ] || die "trace files where not expected"
# shuffled order: a new epoch is announced where it begins, in the step that takes its first window
# (T = 16, global batch 4; the token count is the u64 at byte 20 of the shard, docs/formats.md)
W=$(( ($(od -An -tu8 -j20 -N8 data/train.bin | tr -d ' ') - 1) / 16 ))
"$bin/il-train" --config run.ini --set run.name=epochs --set train.max_steps=$((W / 4 + 2)) --set eval.interval=0 \
    --set run.ckpt_interval=0 >epochs.out
want="epoch 1: a new permutation of the $W windows, from window $((W % 4)) of step $((W / 4 + 1))"
grep -q "$want" runs/epochs/log.txt || die "no line '$want' in the log: $(grep epoch runs/epochs/log.txt)"
[ "$(grep -c 'epoch [0-9]*:' runs/epochs/log.txt)" = 1 ] || die "epoch announced more than once"
# the unigram baseline, against the same cross-entropy computed here from the raw files: counts are u64
# from byte 32 of train.counts, tokens u16 from byte 40 of the shard (docs/formats.md)
V=$(od -An -tu4 -j16 -N4 data/train.counts | tr -d ' ')
N=$(od -An -tu8 -j20 -N8 data/val.bin | tr -d ' ')
want=$({ od -An -v -tu8 -j32 -N$((8 * V)) data/train.counts; echo X; od -An -v -tu2 -j40 -N$((2 * N)) data/val.bin; } |
    tr -s ' ' '\n' | awk -v V="$V" 'NF == 0 { next } $1 == "X" { tok = 1; next }
        !tok { c[n++] = $1; total += $1; next } { s -= log((c[$1] + 1) / (total + V)); m++ } END { printf "%.4f", s / m }')
got=$("$bin/il-eval" --unigram data/train.counts --data data/val.bin | sed -n 's/.*loss \([0-9.]*\) nats.*/\1/p')
[ -n "$got" ] && [ "$got" = "$want" ] || die "unigram baseline $got, computed independently $want"
expect_fail il-eval "other/val.bin" "$bin/il-eval" --unigram data/train.counts --data other/val.bin
# a finished run resumed does nothing more, and says so
"$bin/il-train" --config run.ini --resume >resume.out
grep -q "run runs/r1 finished already: its checkpoint is of step 6" resume.out || die "resume of a finished run: $(cat resume.out)"

# bad configs and command lines
expect_fail il-train nosuch.ini "$bin/il-train" --config nosuch.ini
printf '[model]\nd_model = 16\nwidht = 3\n' >bad1.ini
expect_fail il-train "bad1.ini:3" "$bin/il-train" --config bad1.ini
printf '[model]\nd_model = abc\n' >bad2.ini
expect_fail il-train "model.d_model" "$bin/il-train" --config bad2.ini
expect_fail il-train "model.n_head" "$bin/il-train" --config run.ini --set model.n_head=3
expect_fail il-train "train.global_batch" "$bin/il-train" --config run.ini --set train.global_batch=5
expect_fail il-train "--set" "$bin/il-train" --config run.ini --set nodot
# bad data
expect_fail il-train "missing.bin" "$bin/il-train" --config run.ini --set data.train_path=missing.bin --set run.name=x1
expect_fail il-train "other/val.bin" "$bin/il-train" --config run.ini --set data.val_path=other/val.bin --set run.name=x2
head -c 100 data/train.bin >trunc.bin
expect_fail il-train "trunc.bin" "$bin/il-train" --config run.ini --set data.train_path=trunc.bin --set run.name=x3
expect_fail il-train "model.vocab_size" "$bin/il-train" --config run.ini --set model.vocab_size=100 --set run.name=x4
# an existing run is never trained over
before=$(md5sum runs/r1/ckpt/step_00000006/state.ckpt)
expect_fail il-train "runs/r1" "$bin/il-train" --config run.ini
# resuming with another experiment's settings is refused, naming the key
expect_fail il-train "optim.lr" "$bin/il-train" --config run.ini --resume --set optim.lr=0.01
[ "$before" = "$(md5sum runs/r1/ckpt/step_00000006/state.ckpt)" ] || die "a refused run changed the checkpoint"
# so is a run that has no checkpoint yet but a config.ini of another experiment
mkdir -p runs/r3 && sed 's/^seed = .*/seed = 7/' runs/r1/config.ini >runs/r3/config.ini
expect_fail il-train "train.seed" "$bin/il-train" --config run.ini --set run.name=r3 --resume
# checkpoints: missing, corrupt, scored on data of another tokenizer
expect_fail il-eval "nosuch.ckpt" "$bin/il-eval" --checkpoint nosuch.ckpt --data data/val.bin
head -c 3000 runs/r1/ckpt/step_00000006/state.ckpt >cut.ckpt
expect_fail il-eval "cut.ckpt" "$bin/il-eval" --checkpoint cut.ckpt --data data/val.bin
expect_fail il-eval "other/val.bin" "$bin/il-eval" --checkpoint runs/r1/ckpt/step_00000006/state.ckpt --data other/val.bin
echo "t_train: ok"
