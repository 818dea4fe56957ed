#!/usr/bin/env bash
# Tool-level test of il-probe (run/probing.c): measuring saved weights gives what il-train's own trace step
# recorded for the same weights during training, an independent path (the trainer measured them in
# flight, il-probe from the checkpoints), on the same two ranks with the same probe keys; a probe with
# another seed, or of another checkpoint, differs from it. il-aggregate reads the probe's run directory like
# a trained run; an imported checkpoint's provenance reaches launches.jsonl; bad input is one line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_probe
run2() { mpirun -n 2 --oversubscribe "$@"; }
cmp_trace() { python3 "$here/probe_cmp.py" "$@"; }

# A tiny run traced every 5 steps on 2 ranks, each trace step full (every variable, as il-probe records), its
# checkpoints at 10 and 20; the probe set from the training shard (no validation shard), whose counts
# il-prepare wrote beside it.
tiny_corpus
tiny_ini | sed 's|^val_path = .*|val_path =|' >t.ini
printf '[train]\nglobal_batch = 4\nmicro_batch = 2\nmax_steps = 20\n[optim]\nwarmup_steps = 2\n[eval]\ninterval = 0\n' >>t.ini
printf '[trace]\ninterval = 5\nlog_spaced = 0\nfull_every = 1\nprobe_windows = 8\nprobe_groups = 2\n' >>t.ini
printf '[run]\nname = t\nckpt_interval = 10\nkeep_ckpts = 0\n' >>t.ini
run2 "$bin/il-train" --config t.ini >train.out 2>&1 || die "il-train failed: $(tail -3 train.out)"

# The oracle: every signal of each probed checkpoint equals the trainer's record of its step, rank by rank.
run2 "$bin/il-probe" --run runs/t --data data/train.bin --out probed >probe.out 2>&1 ||
    die "il-probe failed: $(cat probe.out)"
for r in 0 1; do
    for s in 0 1; do
        f=probed/t/trace/rank000$r.seg000$s.nc
        [ -s "$f" ] || die "no $f: $(ls probed/t/trace)"
        cmp_trace runs/t/trace/rank000$r.nc "$f" >cmp.out 2>&1 || die "$(cat cmp.out)"
    done
done
# ... and fails on planted errors: the probe seed ignored (another seed draws other windows), or the wrong
# checkpoint (step 10's weights against the trainer's step 20).
run2 "$bin/il-probe" --ckpt runs/t/ckpt/step_00000010 --seed 7 --data data/train.bin --out seed7 >/dev/null 2>&1 ||
    die "il-probe --seed 7 failed"
! cmp_trace runs/t/trace/rank0000.nc seed7/step_00000010/trace/rank0000.seg0000.nc >/dev/null 2>&1 ||
    die "the comparison does not see another probe seed"
! cmp_trace runs/t/trace/rank0000.nc probed/t/trace/rank0000.seg0000.nc 20 >/dev/null 2>&1 ||
    die "the comparison does not see another checkpoint's weights"

# il-aggregate reads the probe's run as a run, with the trained run's parameter count and tokenizer.
"$bin/il-aggregate" --out agg probed runs >agg.out 2>&1 || die "il-aggregate failed: $(tail -3 agg.out)"
[ "$(tail -n +2 agg/skipped.csv | wc -l)" -eq 0 ] || die "il-aggregate skipped inputs: $(cat agg/skipped.csv)"
trained=$(awk -F, '$2 == "runs/t" {print $3, $8}' agg/runs.csv)
[ -n "$trained" ] && [ "$(awk -F, '$2 == "probed/t" {print $3, $8}' agg/runs.csv)" = "$trained" ] ||
    die "runs.csv lacks the probe run or its parameters and tokenizer: $(cat agg/runs.csv)"

# An imported checkpoint (the GPT-2 fixture on byte tokens) is probed, with its provenance.
mkdir bytes && (cd bytes && for i in 1 2 3 4; do (echo "The quick brown fox ($i)"; seq 60); done >doc.txt &&
    "$bin/il-prepare" --out data --tokenizer byte doc.txt >/dev/null)
python3 "$here/hf_gpt2.py" write hf --V 256 --random
"$bin/il-ckpt" import --hf hf --out gpt --tokenizer bytes/data/tokenizer.bin >/dev/null
"$bin/il-probe" --ckpt gpt --data bytes/data/train.bin --out probed --windows 4 --groups 2 >probe.out 2>&1 ||
    die "il-probe of the imported checkpoint failed: $(cat probe.out)"
sha=$(sha256sum hf/model.safetensors | cut -d' ' -f1)
grep -q "\"source\":\"huggingface hf/model.safetensors sha256 $sha\"" probed/gpt/launches.jsonl ||
    die "the provenance lacks the weights' sha256: $(cat probed/gpt/launches.jsonl)"
ls probed/gpt/trace/rank0000.seg0000.nc >/dev/null || die "no trace of the imported checkpoint"
# its config.ini is of the imported model, not of the defaults
dims=$("$bin/il-ckpt" info gpt | sed -n 's/^  model: //p')
[ "$(awk -F' = ' '$1 == "vocab_size" {v=$2} $1 == "seq_len" {t=$2} $1 == "n_layer" {l=$2} $1 == "n_head" {h=$2}
    $1 == "d_model" {c=$2} END {printf "V=%s T=%s L=%s NH=%s C=%s", v, t, l, h, c}' probed/gpt/config.ini)" = "$dims" ] ||
    die "probed/gpt/config.ini does not describe the checkpoint's model ($dims): $(cat probed/gpt/config.ini)"

# trace.interval = 0 (no trace steps in training) still probes: the checkpoints are the steps
"$bin/il-probe" --ckpt gpt --data bytes/data/train.bin --out untraced --windows 4 --groups 2 --set trace.interval=0 \
    >probe.out 2>&1 || die "il-probe with trace.interval = 0 failed: $(cat probe.out)"
[ -s untraced/gpt/trace/rank0000.seg0000.nc ] || die "no trace with trace.interval = 0"

# What a probe that died left (a lock file no one holds, no config.ini) is cleared by the next; a directory
# that is no run directory is not touched; one that holds only what il-step.sh writes (a sweep task's, made
# before il-probe starts, with the exit code of an attempt that failed before it took the lock) is probed into.
mkdir -p dead/gpt/trace mine/gpt task/gpt
echo "my notes" >mine/gpt/notes.txt
echo 2 >task/gpt/exit_code
echo "host h, pid 1" >dead/gpt/lock
echo junk >dead/gpt/trace/rank0000.seg0000.nc
echo junk >dead/gpt/trace/rank0000.seg0001.nc
echo '{"partial":1}' >dead/gpt/launches.jsonl
"$bin/il-probe" --ckpt gpt --data bytes/data/train.bin --out dead --windows 4 --groups 2 >probe.out 2>&1 ||
    die "il-probe over a dead probe's directory failed: $(cat probe.out)"
[ "$(ls dead/gpt/trace)" = rank0000.seg0000.nc ] && ncdump -h dead/gpt/trace/rank0000.seg0000.nc >/dev/null &&
    [ "$(wc -l <dead/gpt/launches.jsonl)" -eq 1 ] && ! grep -q partial dead/gpt/launches.jsonl && [ -s dead/gpt/config.ini ] ||
    die "the dead probe's files are still there: $(ls -R dead/gpt)"
expect_fail il-probe "mine/gpt: already exists" "$bin/il-probe" --ckpt gpt --data bytes/data/train.bin --out mine
[ "$(ls mine/gpt)" = notes.txt ] || die "il-probe touched a directory that is no run directory: $(ls mine/gpt)"
"$bin/il-probe" --ckpt gpt --data bytes/data/train.bin --out task --windows 4 --groups 2 >probe.out 2>&1 ||
    die "il-probe into a sweep task's directory failed: $(cat probe.out)"
[ -s task/gpt/config.ini ] && [ -s task/gpt/trace/rank0000.seg0000.nc ] || die "no probe in task/gpt: $(ls -R task)"

# Bad input: one line each, exit 2, nothing left behind.
expect_fail il-probe "tokenizer id" "$bin/il-probe" --ckpt gpt --data data/train.bin --out bad
[ ! -e bad ] || die "a refused probe left its output directory"
expect_fail il-probe "nothere" "$bin/il-probe" --ckpt nothere --data data/train.bin --out bad
expect_fail il-probe "probed/gpt: already exists" "$bin/il-probe" --ckpt gpt --data bytes/data/train.bin --out probed
expect_fail il-probe "no complete checkpoint" "$bin/il-probe" --run bytes --data data/train.bin --out bad
expect_fail il-probe "trace.probe_windows" "$bin/il-probe" --ckpt gpt --data data/train.bin --out bad --windows x
# a model and batch beyond this rank's memory (Slurm's --mem of 1 MB) is refused before anything is allocated
SLURM_MEM_PER_NODE=1 expect_fail il-probe "lower train.micro_batch" "$bin/il-probe" --ckpt gpt --data bytes/data/train.bin \
    --out bad --set train.micro_batch=64 --set train.global_batch=64
[ ! -e bad ] || die "a refused probe left its output directory"
echo "$name: ok"
