#!/usr/bin/env bash
# Probe sweeps (il-sweep with a [probe] section, src/sweep/spec.c): one array task per checkpoint or training
# run directory, each running il-probe; then the aggregation job of a training sweep. Without a cluster: the
# committed GPT-2 fixture (tests/golden/gpt2-tiny, imported on a BPE of its 300 tokens) and a tiny training
# sweep's run (made by il-step.sh, as on a cluster) with its checkpoints are probed with --local; --dry-run
# prints each task's il-probe command; the aggregation job's il-aggregate has a row per run with the
# parameter count worked out here from GPT-2's shapes; a failed run goes again through resubmit --failed and
# the task script, recording its Slurm ids; bad specs and inputs are one line naming the spec's line and key.
# Slurm's commands are stubs on PATH.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_sweep_probe
source "$root/tests/sweep_lib.sh"
export STUB=$tmp/stub
mkdir -p "$STUB"
cat >"$STUB/sbatch" <<'SH'
#!/usr/bin/env bash
id=$(($(cat "$STUB/count" 2>/dev/null || echo 100) + 1))
echo "$id" >"$STUB/count"
printf '%s\n' "$@" >"$STUB/sbatch.$id"
echo "$id"
SH
for c in squeue scontrol scancel sacct; do printf '#!/bin/sh\nexit 1\n' >"$STUB/$c"; done
chmod +x "$STUB"/*
export PATH=$STUB:$PATH

tiny_corpus # a BPE of 300 tokens, the fixture's vocabulary
"$bin/il-ckpt" import --hf "$here/golden/gpt2-tiny" --out models/gpt2-tiny --tokenizer data/tokenizer.bin >/dev/null
# a training sweep's run, checkpointed at steps 2 and 4
cat >train.ini <<'INI'
[sweep]
name = tr
launcher = mpirun
[fixed]
model.seq_len = 16
model.n_layer = 1
model.n_head = 2
model.d_model = 8
data.train_path = data/train.bin
data.val_path = data/val.bin
train.global_batch = 2
train.micro_batch = 2
train.max_steps = 4
eval.interval = 0
run.ckpt_interval = 2
[grid]
train.seed = 1
INI
"$bin/il-sweep" submit train.ini --out tr --local >tr.out 2>&1 || die "the training sweep failed: $(cat tr.out)"
trained=$(awk -F'\t' 'NR == 2 { print $2 }' tr/manifest.tsv)

cat >probe.ini <<INI
[sweep]
name = pr
ranks = 2
launcher = mpirun
[probe]
checkpoints = models/gpt2-tiny, tr/runs/$trained/ckpt/step_00000002
runs = tr/runs/$trained
data = data/train.bin
windows = 4
groups = 2
set = train.micro_batch=1 train.global_batch=2
INI
# --dry-run: each task's il-probe command; the array runs il-probe
"$bin/il-sweep" submit probe.ini --out pr --dry-run >dry.out || die "--dry-run: $(cat dry.out)"
names=$(awk -F'\t' '$1 ~ /^[0-9]+$/ && NF == 4 { print $2 }' dry.out)
[ "$(echo "$names" | wc -l)" = 3 ] || die "the manifest is not 3 runs: $(cat dry.out)"
read -r n0 n1 n2 <<<"$(echo $names)"
for want in "0 $bin/il-probe --ckpt models/gpt2-tiny --data data/train.bin --windows 4 --groups 2 --set train.micro_batch=1 --set train.global_batch=2 --name $n0 --out $tmp/pr/runs" \
            "1 $bin/il-probe --ckpt tr/runs/$trained/ckpt/step_00000002 --data data/train.bin" \
            "2 $bin/il-probe --run tr/runs/$trained --data data/train.bin"; do
    grep -qF -- "$want" dry.out || die "--dry-run lacks '$want': $(sed -n '/il-probe per run/,/^# ----/p' dry.out)"
done
[[ $n0 == gpt2-tiny-* && $n1 == $trained-step_00000002-* && $n2 == $trained-* ]] || die "run names: $names"
grep -q "^sbatch .* $tmp/pr/jobs/sweep-task.sbatch $tmp/pr 0 mpirun $bin/il-probe default$" dry.out ||
    die "the array does not run il-probe: $(grep ^sbatch dry.out)"
[ ! -e pr ] || die "--dry-run wrote the sweep directory"

# --local: every run probed, under il-step.sh, into the directory it made
"$bin/il-sweep" submit probe.ini --out pr --local >local.out 2>&1 || die "--local: $(cat local.out)"
[ "$(count_state pr done)" = 3 ] || die "the probe runs are not done: $(cat local.out)"
for n in $n0 $n1 $n2; do [ -s "pr/runs/$n/config.ini" ] || die "no probe in pr/runs/$n: $(cat local.out)"; done
[ "$(ls pr/runs/$n2/trace | wc -l)" = 4 ] || die "the run's 2 checkpoints on 2 ranks: $(ls pr/runs/$n2/trace)"
sha=$(sha256sum "$here/golden/gpt2-tiny/model.safetensors" | cut -d' ' -f1)
grep -q "\"source\":\"huggingface [^\"]*gpt2-tiny/model.safetensors sha256 $sha\"" "pr/runs/$n0/launches.jsonl" ||
    die "the imported model's provenance: $(cat "pr/runs/$n0/launches.jsonl")"

# the aggregation job, run as Slurm would: a row per run, each with its model's parameters
bash pr/jobs/aggregate.sbatch "$tmp/pr" "$bin/il-sweep" mpirun default >agg.out 2>&1 || die "aggregation: $(cat agg.out)"
csv=pr/aggregate/runs.csv
col() { awk -F, -v run="$1" -v key="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                                         $c["run"] == run { print $c[key] }' "$csv"; }
# GPT-2 with tied embeddings: wte V*C, wpe T*C, per block 12*C*C + 13*C, the final norm 2*C
params() { echo $(($1 * $4 + $2 * $4 + $3 * (12 * $4 * $4 + 13 * $4) + 2 * $4)); }
[ "$(tail -n +2 "$csv" | wc -l)" = 3 ] || die "runs.csv is not the 3 runs: $(cat "$csv")"
[ "$(col "$n0" n_params)" = "$(params 300 64 2 64)" ] || die "runs.csv: $n0's parameters: $(cat "$csv")"
for n in $n1 $n2; do [ "$(col "$n" n_params)" = "$(params 300 16 1 8)" ] || die "runs.csv: $n's parameters: $(cat "$csv")"; done
[ -s pr/aggregate/claims.md ] && [ -s pr/summary.md ] || die "no claims.md or summary.md: $(ls pr pr/aggregate)"

# a run whose attempt failed before il-probe took its directory goes again: resubmit --failed, then the task
"$bin/il-sweep" submit probe.ini --out pr >again.out && grep -q '^# 0 run(s) to submit' again.out || die "done runs resubmitted: $(cat again.out)"
rm -r "pr/runs/$n1" && mkdir "pr/runs/$n1" && echo 1 >"pr/runs/$n1/exit_code"
"$bin/il-sweep" resubmit pr --failed >resubmit.out || die "resubmit: $(cat resubmit.out)"
job=$(($(cat "$STUB/count") - 1)) # the array; the aggregation job follows it
grep -qx -- '--array=1' "$STUB/sbatch.$job" && grep -qx "$bin/il-probe" "$STUB/sbatch.$job" ||
    die "resubmit --failed: $(cat "$STUB/sbatch.$job")"
env -u SLURM_JOB_ID SLURM_ARRAY_JOB_ID=$job SLURM_ARRAY_TASK_ID=1 SLURM_NTASKS=2 \
    bash pr/jobs/sweep-task.sbatch "$tmp/pr" 0 mpirun "$bin/il-probe" >task.out 2>&1 || die "the task: $(cat task.out)"
[ "$(state_of pr 1)" = done ] || die "run 1 is not done again: $(cat task.out)"
grep -q "\"SLURM_ARRAY_JOB_ID\":\"$job\",\"SLURM_ARRAY_TASK_ID\":\"1\"" "pr/runs/$n1/launches.jsonl" &&
    grep -qF "\"--name\",\"$n1\",\"--out\",\"$tmp/pr/runs\"" "pr/runs/$n1/launches.jsonl" ||
    die "the task's provenance: $(cat "pr/runs/$n1/launches.jsonl")"

# cancel: the probe sweep's recorded jobs, the aggregation job first
"$bin/il-sweep" cancel pr --dry-run >cancel.out || die "cancel --dry-run: $(cat cancel.out)"
[ "$(grep -o 'would cancel [a-z]* job [0-9]*' cancel.out | paste -sd,)" = \
    "would cancel aggregation job $((job + 1)),would cancel array job $job" ] || die "cancel --dry-run: $(cat cancel.out)"

# bad specs and inputs: one line, exit 2, naming the spec's line and key; nothing queued
"$bin/il-prepare" --out bytes --tokenizer byte doc1.txt >/dev/null
bad() { # BODY NEEDLE
    local name="$name [$2]" # a failure names the case
    printf '[sweep]\nname = b\n[probe]\n%b' "$1" >bad.ini
    expect_fail il-sweep "$2" "$bin/il-sweep" submit bad.ini --out b --dry-run
    [ ! -e b ] || die "a refused spec left b/"
}
ok='checkpoints = models/gpt2-tiny\ndata = data/train.bin\n'
bad 'checkpoints = models/nothere\ndata = data/train.bin\n' \
    "bad.ini:4: probe.checkpoints: models/nothere: cannot open: No such file or directory (run 0 nothere-"
bad 'checkpoints = models/gpt2-tiny\ndata = bytes/train.bin\n' \
    "bad.ini:4: probe.checkpoints: bytes/train.bin: tokenizer id"
bad "$ok[grid]\nmodel.d_model = 64, 128\n" "bad.ini:7: model.d_model: a probe sweep ([probe], line 4) trains nothing"
bad "[fixed]\ntrain.max_steps = 3\n[probe]\n$ok" "bad.ini:5: train.max_steps: a probe sweep ([probe], line 7) trains nothing"
bad 'checkpoints = models/gpt2-tiny\ndata = data/nothere.bin\n' "bad.ini:5: probe.data: data/nothere.bin"
bad 'checkpoints = models/gpt2-tiny\n' "bad.ini:4: [probe] has no data"
bad "${ok}checkpoint = x\n" "bad.ini:6: unknown key 'probe.checkpoint' (did you mean 'probe.checkpoints'?)"
bad "${ok}set = run.name=x\n" "bad.ini:6: probe.set: 'run.name=x': il-sweep sets run.name"
bad "${ok}set = trace.probe_windowz=4\n" "bad.ini:6: probe.set"
bad "${ok}windows = 0\n" "bad.ini:6: probe.windows: '0' is out of range"
bad "${ok}runs = tr/runs/$trained, models/gpt2-tiny\n" "bad.ini:6: probe.runs: models/gpt2-tiny: no complete checkpoint"
bad "${ok}runs = tr/runs/$trained, tr/runs/$trained\n" "bad.ini:6: probe.runs: tr/runs/$trained given twice (first at line 6)"
bad 'checkpoints = models/gpt2-tiny\ndata = data/train.bin\nset = train.global_batch=3\n' \
    "bad.ini:4: probe.checkpoints: train.global_batch (3) is not divisible"
# a changed [probe] key would change the sweep's runs
sed 's/^windows = 4$/windows = 8/' probe.ini >changed.ini
expect_fail il-sweep "pr/manifest.tsv: run 0 ($n0, probe=checkpoint path=models/gpt2-tiny) is not among the runs changed.ini expands to" \
    "$bin/il-sweep" submit changed.ini --out pr
# the example spec expands to its three models (their checkpoints are not here: check_paths = no)
sed 's/^\[sweep\]$/[sweep]\ncheck_paths = no/' "$root/jobs/examples/probe-gpt2.ini" >example.ini
"$bin/il-sweep" submit example.ini --out example --dry-run >example.out || die "the example: $(cat example.out)"
[ "$(awk -F'\t' '$1 ~ /^[0-9]$/ && NF == 4 { printf "%s %s ", $3, $4 }' example.out)" = \
    "checkpoint models/gpt2 checkpoint models/gpt2-medium checkpoint models/distilgpt2 " ] ||
    die "the example's runs: $(cat example.out)"
# il-probe --name names one run
expect_fail il-probe "--name names one run directory" "$bin/il-probe" --ckpt a --ckpt b --name x --data d --out o
expect_fail il-probe "--name: '..'" "$bin/il-probe" --ckpt models/gpt2-tiny --name .. --data data/train.bin --out o
echo "$name: ok"
