#!/usr/bin/env bash
# il-sweep without a cluster: every bad spec ends with exit 2 and one line naming the file and line; a
# value such as $(touch pwned) reaches a run only as config-file text and is never executed; the task
# script maps array ids to runs; status and resubmit --failed work from the runs' exit markers alone.
# Slurm's commands are replaced by stubs on PATH, so this test never reaches a real cluster.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_sweep
source "$root/tests/sweep_lib.sh"

# stubs: sbatch records its argv (one argument a line) and prints a job id; the rest fail like Slurm
# without a controller
export STUB=$tmp/stub
mkdir -p "$STUB"
cat >"$STUB/sbatch" <<'SH'
#!/usr/bin/env bash
id=$(($(cat "$STUB/count" 2>/dev/null || echo 100) + 1))
echo "$id" >"$STUB/count"
printf '%s\n' "$@" >"$STUB/sbatch.$id"
echo "$id"
SH
for c in squeue sacct scontrol; do printf '#!/bin/sh\nexit 1\n' >"$STUB/$c"; done
chmod +x "$STUB"/*
export PATH=$STUB:$PATH

# bad specs: the error names the file and line (or the runs, for a combination)
spec() { printf '[sweep]\nname = t\n%b' "$1" >"$2"; }
bad() { # BODY NEEDLE
    spec "$1" bad.ini
    expect_fail il-sweep "$2" "$bin/il-sweep" submit bad.ini --dry-run
}
bad '[fixed]\nmodel.widht = 3\n' "bad.ini:4: unknown key 'model.widht'"
bad '[fixed]\nwidth = 3\n' "bad.ini:4: 'width': expected a trainer key as section.key"
bad '[grid]\nmodel.d_model = 64, abc\n' "bad.ini:4: model.d_model: 'abc' is not an integer"
bad '[grid]\noptim.lr = 1e-3, 20\n' "bad.ini:4: optim.lr: '20' is out of range"
bad '[grid]\nmodel.d_model =\n' "bad.ini:4: model.d_model: empty list of values"
bad '[grid]\nmodel.d_model = 64,,128\n' "bad.ini:4: model.d_model: empty value in the list"
bad '[list]\noptim.lr = 1e-3, 2e-3\noptim.min_lr = 1e-4, 2e-4, 3e-4\n' \
    "bad.ini:5: optim.min_lr has 3 values, but the list key optim.lr (line 4) has 2"
bad '[fixed]\nmodel.d_model = 64\n[grid]\nmodel.d_model = 32, 64\n' "bad.ini:6: model.d_model given twice (first at line 4)"
bad '[fixed]\nrun.name = x\n' "bad.ini:4: run.name is set by il-sweep"
bad '[grids]\nmodel.d_model = 64\n' "bad.ini:4: unknown section [grids]"
bad 'nodes = 2\n' "bad.ini:3: unknown key 'sweep.nodes'"
bad 'ranks = two\n' "bad.ini:3: sweep.ranks: 'two' is not an integer"
bad 'launcher = aprun\n' "bad.ini:3: sweep.launcher: 'aprun': use srun or mpirun"
bad 'requeue = maybe\n' "bad.ini:3: sweep.requeue: 'maybe': use yes or no"
bad '[grid]\noptim.lr = 1e-3, 0.001\n' "are the same experiment"
bad '[grid]\nmodel.d_model = 64, 30\n' "run 1 (model.d_model=30)"
bad 'ranks = 3\n[fixed]\ntrain.global_batch = 8\ntrain.micro_batch = 2\n' "train.global_batch (8) is not divisible"
printf '[sweep]\nranks = 2\n' >bad.ini
expect_fail il-sweep "bad.ini: [sweep] has no name" "$bin/il-sweep" submit bad.ini --dry-run
printf '[sweep]\nname = $(touch pwned)\n' >bad.ini
expect_fail il-sweep "bad.ini:2: sweep.name" "$bin/il-sweep" submit bad.ini --dry-run
bad '[grid]\ndata.val_path = a;touch pwned\n' "data.val_path: value contains ';'"
expect_fail il-sweep "nosuch.ini: cannot open" "$bin/il-sweep" submit nosuch.ini
expect_fail il-sweep "unknown command 'frobnicate'" "$bin/il-sweep" frobnicate x
expect_fail "il-sweep resubmit" "say what to resubmit: --failed" "$bin/il-sweep" resubmit somewhere
expect_fail il-sweep "not a sweep directory" "$bin/il-sweep" status nowhere

# names are content-derived: the same experiment spelled differently gets the same name
spec '[grid]\noptim.lr = 1e-3\n' a.ini
spec '[grid]\noptim.lr = 0.001\n' b.ini
for s in a b; do "$bin/il-sweep" submit $s.ini --out $s --dry-run | awk -F'\t' '$1 == "0" { print $2 }' >$s.name; done
cmp -s a.name b.name || die "the same experiment got two names: $(cat a.name b.name)"
grep -q '^lr0.001-[0-9a-f]\{8\}$' a.name || die "run name: $(cat a.name)"

# injection: values that a shell would execute are stored verbatim and never run
tiny_corpus --tokenizer byte
cat >inj.ini <<'INI'
[sweep]
name = inj
throttle = 2
launcher = mpirun
[fixed]
model.seq_len = 16
model.n_layer = 1
model.n_head = 2
model.d_model = 8
data.train_path = data/train.bin
train.global_batch = 2
train.micro_batch = 2
train.max_steps = 3
optim.warmup_steps = 1
eval.interval = 0
[grid]
data.val_path = data/val.bin, $(touch pwned), `touch pwned2`
INI
"$bin/il-sweep" submit inj.ini --out inj >submit.out || die "submit: $(cat submit.out)"
[ "$(cat "$STUB/count")" = 102 ] || die "expected an array and an aggregation job: $(ls "$STUB")"
grep -qx -- '--array=0-2%2' "$STUB/sbatch.101" || die "array: $(cat "$STUB/sbatch.101")"
grep -qx -- '--dependency=afterany:101' "$STUB/sbatch.102" || die "aggregation dependency: $(cat "$STUB/sbatch.102")"
! grep -q touch "$STUB"/sbatch.* || die "a sweep value reached sbatch's command line"
grep -qxF 'val_path = $(touch pwned)' inj/configs/*.ini || die "value not stored verbatim in a config"
grep -qxF 'val_path = `touch pwned2`' inj/configs/*.ini || die "value not stored verbatim in a config"
grep -qF $'\t$(touch pwned)' inj/manifest.tsv || die "manifest does not hold the value verbatim"
# run each task the way Slurm would (without a controller: no requeue, mpirun as the launcher)
for i in 0 1 2; do
    env -u SLURM_JOB_ID SLURM_ARRAY_TASK_ID=$i SLURM_NTASKS=1 \
        bash inj/jobs/sweep-task.sbatch "$tmp/inj" 0 mpirun "$bin/il-train" >task$i.out 2>&1 || true
done
for p in pwned pwned2; do
    [ ! -e "$p" ] && [ ! -e "inj/$p" ] && [ ! -e "$HOME/$p" ] || die "a sweep value was executed ($p exists)"
done
grep -qF '$(touch pwned)' task1.out || die "the trainer did not report the verbatim path: $(cat task1.out)"
"$bin/il-sweep" status inj >status.txt
[ "$(state_of inj 0)" = done ] || die "run 0 not done: $(cat status.txt task0.out)"
[ "$(count_state inj failed)" -eq 2 ] || die "the injected runs are not failed: $(cat status.txt)"
grep -q ' 3 ' <(awk '$1 == 0' status.txt) || die "status lacks run 0's last step: $(cat status.txt)"
# resubmit --failed submits exactly the failed runs; a second submit of the spec skips the done one
"$bin/il-sweep" resubmit inj --failed >resubmit.out
grep -qx -- '--array=1-2%2' "$STUB/sbatch.103" || die "resubmitted array: $(cat "$STUB/sbatch.103")"
"$bin/il-sweep" submit inj.ini --out inj >again.out
grep -q '^# 2 run(s) to submit' again.out || die "submit again: $(cat again.out)"
# a changed spec cannot take over the directory (it would renumber the runs of queued jobs)
sed -i 's/max_steps = 3/max_steps = 4/' inj.ini
expect_fail il-sweep "inj/manifest.tsv: differs from what inj.ini expands to" "$bin/il-sweep" submit inj.ini --out inj
"$bin/il-sweep" summary inj >/dev/null
[ "$(tail -n +2 inj/summary.tsv | wc -l)" -eq 3 ] || die "summary rows: $(cat inj/summary.tsv)"
