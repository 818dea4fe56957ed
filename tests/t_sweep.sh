#!/usr/bin/env bash
# il-sweep without a cluster: every bad spec ends with exit 2 and one line naming the file and line; a
# value such as $(touch pwned) reaches a run only as config-file text and is never executed; the task
# script maps array ids to runs; status and resubmit --failed work from the runs' exit markers alone;
# status's columns, --state and --format json, read from stubbed squeue/sacct output too; cancel.
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
for c in squeue scontrol scancel; do printf '#!/bin/sh\nexit 1\n' >"$STUB/$c"; done
# sacct keeps its arguments, to check the -S of status
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >"$STUB/sacct.args"\nexit 1\n' >"$STUB/sacct"
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
bad 'nodez = 2\n' "bad.ini:3: unknown key 'sweep.nodez' (did you mean 'sweep.nodes'?)"
bad '[grid]\ntrain.lr = 1e-3, 2e-3\n' "bad.ini:4: unknown key 'train.lr' (did you mean 'optim.lr'?)"
bad '[fixed]\nd_modle = 3\n' "bad.ini:4: 'd_modle': expected a trainer key as section.key (did you mean 'model.d_model'?)"
bad 'mem = lots\n' "bad.ini:3: sweep.mem: 'lots': use a size such as 4G"
bad 'out_dir = ${IL_NO_SUCH_VARIABLE}/x\n' 'bad.ini:3: sweep.out_dir: ${IL_NO_SUCH_VARIABLE} is not set'
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
spec 'check_paths = no\n[grid]\noptim.lr = 1e-3\n' a.ini
spec 'check_paths = no\n[grid]\noptim.lr = 0.001\n' b.ini
for s in a b; do "$bin/il-sweep" submit $s.ini --out $s --dry-run | awk -F'\t' '$1 == "0" { print $2 }' >$s.name; done
cmp -s a.name b.name || die "the same experiment got two names: $(cat a.name b.name)"
grep -q '^lr0.001-[0-9a-f]\{8\}$' a.name || die "run name: $(cat a.name)"

# injection: values that a shell would execute are stored verbatim and never run
tiny_corpus --tokenizer byte
cat >inj.ini <<'INI'
[sweep]
name = inj
; its values are meant to fail in the tasks, not at submission
check_paths = no
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
[ "$(awk '$1 == 0 { print $5, $11 }' status.txt)" = "3/3 0" ] ||
    die "status lacks run 0's step/max_steps or exit code: $(cat status.txt)"
# resubmit --failed submits exactly the failed runs; a second submit of the spec skips the done one
"$bin/il-sweep" resubmit inj --failed >resubmit.out
grep -qx -- '--array=1-2%2' "$STUB/sbatch.103" || die "resubmitted array: $(cat "$STUB/sbatch.103")"
"$bin/il-sweep" submit inj.ini --out inj >again.out
grep -q '^# 2 run(s) to submit' again.out || die "submit again: $(cat again.out)"
# a changed spec cannot take over the directory: its runs would not be the runs it trained
sed -i 's/max_steps = 3/max_steps = 4/' inj.ini
expect_fail il-sweep "inj/manifest.tsv: run 0 (" "$bin/il-sweep" submit inj.ini --out inj
grep -qF "would change: train.max_steps (4, not 3)" err.txt || die "the changed key is not named: $(cat err.txt)"

# a sweep grows: a spec that gained a seed appends its run after the finished ones, which stay as they are
cat >grow.ini <<'INI'
[sweep]
name = grow
[fixed]
model.seq_len = 16
model.n_layer = 1
model.n_head = 2
model.d_model = 8
data.train_path = data/train.bin
data.val_path = data/val.bin
train.global_batch = 2
train.micro_batch = 2
train.max_steps = 3
eval.interval = 0
[grid]
train.seed = 1, 2
INI
# checked at submission, not in the queue: a mistyped data path, a validation shard of another tokenizer, a
# vocabulary below the shard's; refused naming the spec's line, the key and the runs. check_paths = no skips
# the paths (they may exist only on the compute nodes); runs of different tokenizers are fine
sed 's#^data.train_path = data/train.bin$#data.train_path = data/trian.bin#' grow.ini >typo.ini
expect_fail il-sweep "typo.ini:8: data.train_path: data/trian.bin: cannot open: No such file or directory (run 0 " \
    "$bin/il-sweep" submit typo.ini --out typo --dry-run
grep -qF ' and 1 other run(s); set sweep.check_paths = no if the path exists only on the compute nodes)' err.txt ||
    die "the runs or the opt-out not named: $(cat err.txt)"
sed -i 's/^name = grow$/name = grow\ncheck_paths = no/' typo.ini
"$bin/il-sweep" submit typo.ini --out typo --dry-run >typo.out || die "check_paths = no: $(cat typo.out)"
grep -q 'check_paths = no: the runs. data paths are not checked here' typo.out || die "no word of check_paths = no"
"$bin/il-prepare" --out data2 --tokenizer bpe --vocab 300 doc*.txt >/dev/null
sed 's#^data.val_path = data/val.bin$#data.val_path = data2/val.bin#' grow.ini >mix.ini
expect_fail il-sweep "mix.ini:9: data.val_path: data2/val.bin: made by tokenizer" "$bin/il-sweep" submit mix.ini --out mix --dry-run
sed 's/^model.d_model = 8$/model.d_model = 8\nmodel.vocab_size = 100/' grow.ini >vocab.ini
expect_fail il-sweep "vocab.ini:8: model.vocab_size: model.vocab_size = 100 is smaller than the vocabulary of data/train.bin (256)" \
    "$bin/il-sweep" submit vocab.ini --out vocab --dry-run
sed '/^data\.\(train\|val\)_path/d' grow.ini >two.ini
printf '[list]\ndata.train_path = data/train.bin, data2/train.bin\ndata.val_path = data/val.bin, data2/val.bin\n' >>two.ini
"$bin/il-sweep" submit two.ini --out two --dry-run >two.out || die "runs of two tokenizers: $(cat two.out)"
grep -q '^# the runs read 2 tokenizers' two.out || die "runs of two tokenizers: $(head -3 two.out)"

"$bin/il-sweep" submit grow.ini --out grow --local >grow.out 2>&1 || die "local sweep: $(cat grow.out)"
[ "$(count_state grow done)" -eq 2 ] || die "the local runs are not done: $(cat grow.out)"
manifest_before=$(cat grow/manifest.tsv)
find grow/runs -type f -printf '%p %s %T@\n' | sort >runs.before
sed -i 's/^train.seed = 1, 2$/train.seed = 1, 3, 2/' grow.ini
"$bin/il-sweep" submit grow.ini --out grow --dry-run >grow.out || die "dry run of a grown spec: $(cat grow.out)"
grep -q -- '--array=2 ' grow.out || die "the dry run does not submit the new run alone: $(grep -e '^#' -e ^sbatch grow.out)"
"$bin/il-sweep" submit grow.ini --out grow >grow.out || die "submit of a grown spec: $(cat grow.out)"
grep -q 'manifest.tsv: 1 run(s) added after the 2 it has$' grow.out || die "growth not reported: $(cat grow.out)"
[ "$(head -3 grow/manifest.tsv)" = "$manifest_before" ] || die "the finished runs' rows changed: $(cat grow/manifest.tsv)"
[ "$(awk -F'\t' 'NR == 4 { print $1, $3 }' grow/manifest.tsv)" = "2 3" ] || die "the new run is not run 2: $(cat grow/manifest.tsv)"
find grow/runs -type f -printf '%p %s %T@\n' | sort | cmp -s - runs.before || die "the finished runs' files changed"
grep -qx -- '--array=2' "$STUB/sbatch.$(cat "$STUB/count")" "$STUB/sbatch.$(($(cat "$STUB/count") - 1))" ||
    die "not only the new run submitted: $(cat grow.out)"
# ... but a changed value of its runs is refused, naming the run and the key
sed -i 's/^eval.interval = 0$/eval.interval = 0\noptim.lr = 2e-3/' grow.ini
expect_fail il-sweep "grow/manifest.tsv: run 0 ($(awk -F'\t' 'NR == 2 { print $2 }' grow/manifest.tsv), train.seed=1) would change: optim.lr (0.002, not 0.001)" \
    "$bin/il-sweep" submit grow.ini --out grow
sed -i 's/^optim.lr = 2e-3$//; s/^train.seed = 1, 3, 2$/train.seed = 1, 3/' grow.ini
expect_fail il-sweep "run 1 (" "$bin/il-sweep" submit grow.ini --out grow
grep -qF 'train.seed=2) is not among the runs grow.ini expands to' err.txt || die "a removed seed: $(cat err.txt)"
"$bin/il-sweep" summary inj >/dev/null
[ "$(tail -n +2 inj/summary.tsv | wc -l)" -eq 3 ] || die "summary rows: $(cat inj/summary.tsv)"

# a site's options reach sbatch as arguments, shown by --dry-run as #SBATCH lines; sweep.mpi reaches srun
cat >site.ini <<'INI'
[sweep]
name = site
ranks = 2
mem = 4G
gres = gpu:1
constraint = avx512&ib
nodes = 2
ntasks_per_node = 1
mpi = pmi2
sbatch_args = --comment=hello --reservation=r1
aggregate_ntasks = 2
aggregate_mem = 8G
[fixed]
train.max_steps = 3
train.global_batch = 16
optim.warmup_steps = 1
data.train_path = data/train.bin
data.val_path = data/val.bin
INI
"$bin/il-sweep" submit site.ini --out site --dry-run >site.txt
for want in '#SBATCH --mem=4G' '#SBATCH --gres=gpu:1' '#SBATCH --constraint=avx512&ib' '#SBATCH --nodes=2' \
            '#SBATCH --ntasks-per-node=1' '#SBATCH --comment=hello' '#SBATCH --reservation=r1' \
            '# step: srun --mpi=pmi2 --ntasks=$SLURM_NTASKS' '#SBATCH --mem=8G'; do
    grep -qF -- "$want" site.txt || die "--dry-run lacks '$want': $(grep -e '^#SBATCH' -e '^# step' site.txt)"
done
[ "$(grep -c '^#SBATCH --ntasks=2$' site.txt)" = 2 ] || die "the runs and the aggregation job do not both ask for 2 tasks"
grep -q '^# site.ini: sweep.gres = gpu:1: il-train runs on CPUs only' site.txt || die "no word that a GPU stays idle"
"$bin/il-sweep" submit site.ini --out site >/dev/null
mkdir -p fakebin
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >"%s/srun.args"\n' "$tmp" >fakebin/srun
chmod +x fakebin/srun
for mpi in pmi2 default; do
    env -u SLURM_JOB_ID SLURM_ARRAY_TASK_ID=0 SLURM_NTASKS=2 PATH="$tmp/fakebin:$PATH" \
        bash site/jobs/sweep-task.sbatch "$tmp/site" 0 srun "$bin/il-train" $mpi >task.out 2>&1 || die "task: $(cat task.out)"
    if [ $mpi = default ]; then
        ! grep -q -- '--mpi' srun.args || die "srun got an --mpi with mpi = default: $(cat srun.args)"
    else
        grep -qx -- "--mpi=$mpi" srun.args || die "srun did not get --mpi=$mpi: $(cat srun.args)"
    fi
done

# a sweep directory whose runs an older build named otherwise keeps its names when they are the same experiments
"$bin/il-sweep" submit site.ini --out old --dry-run >/dev/null
"$bin/il-sweep" submit site.ini --out old >/dev/null
new=$(awk -F'\t' 'NR == 2 { print $2 }' old/manifest.tsv)
sed -i "s/\t$new\$/\told-name-1/; s/\t$new\t/\told-name-1\t/" old/manifest.tsv
mv "old/configs/$new.ini" old/configs/old-name-1.ini
"$bin/il-sweep" submit site.ini --out old >again.out || die "resubmit of an older build's sweep: $(cat again.out)"
grep -q 'keep their names' again.out || die "no message about the kept names: $(cat again.out)"
grep -qP '\told-name-1$' old/manifest.tsv || die "the old name was not kept: $(cat old/manifest.tsv)"
# ... but not when an experiment differs
sed -i 's/^max_steps = 3$/max_steps = 5/' old/configs/old-name-1.ini
expect_fail il-sweep "old/manifest.tsv: run 0 (old-name-1) would change: train.max_steps (3, not 5)" "$bin/il-sweep" submit site.ini --out old

# status: --help, the columns, --state, --format json, and sacct asked from the sweep's start, not midnight
"$bin/il-sweep" status --help >help.txt || die "status --help failed"
grep -q '^usage: il-sweep status DIR' help.txt || die "status --help: $(cat help.txt)"
grep -q -- '--state' help.txt || die "status --help does not describe --state"
expect_fail "il-sweep status" "unknown state 'bogus'" "$bin/il-sweep" status inj --state failed,bogus
expect_fail "il-sweep status" "unknown state ''" "$bin/il-sweep" status inj --state done,
expect_fail "il-sweep status" "--format" "$bin/il-sweep" status inj --format xml
head -1 status.txt | grep -q '^idx  *run  *state  *task  *step  *loss  *val  *tok/s  *time  *node  *exit  *try  *slurm$' ||
    die "status header: $(head -1 status.txt)"
rm -f "$STUB/sacct.args"
"$bin/il-sweep" status inj --state failed >failed.txt
[ "$(awk '$1 ~ /^[0-9]+$/ { print $1 $3 }' failed.txt | tr '\n' ' ')" = "1failed 2failed " ] ||
    die "--state failed: $(cat failed.txt)"
grep -q '^# 3 run(s): 1 done 2 failed; 2 shown$' failed.txt || die "--state count line: $(tail -1 failed.txt)"
[ "$("$bin/il-sweep" status inj --state running,new | grep -c '^[0-9]')" -eq 0 ] || die "--state running,new shows runs"
grep -qx -- '-S' "$STUB/sacct.args" || die "sacct not asked with -S: $(cat "$STUB/sacct.args" 2>&1)"
since=$(grep -x -A1 -- '-S' "$STUB/sacct.args" | tail -1)
[[ $since =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$ ]] || die "sacct -S '$since'"
# -S comes before the oldest log: an hour before the sweep's earliest file, not today's midnight
touch -d '3 days ago' inj/logs/old.out
"$bin/il-sweep" status inj >/dev/null
since=$(grep -x -A1 -- '-S' "$STUB/sacct.args" | tail -1)
[ "$(date -d "${since/T/ }" +%s)" -le "$(($(date +%s) - 3 * 86400))" ] || die "sacct -S $since is after the oldest log"
"$bin/il-sweep" status inj --format json >status.json
/usr/bin/python3 -m json.tool status.json >/dev/null || die "--format json is not JSON: $(cat status.json)"
/usr/bin/python3 - status.json <<'PY' || die "--format json: $(cat status.json)"
import json, sys
runs = json.load(open(sys.argv[1]))
assert [r["index"] for r in runs] == [0, 1, 2], runs
r = runs[0]
assert (r["state"], r["step"], r["max_steps"], r["exit_code"], r["task"]) == ("done", 3, 3, 0, "101_0"), r
assert isinstance(r["loss"], float) and isinstance(r["tokens_per_s"], float) and r["time_limit_s"] == 3600, r
assert r["node"] is None and r["attempt"] is None and r["val_loss"] is None and r["elapsed_s"] is None, r
assert [x["state"] for x in runs[1:]] == ["failed", "failed"] and runs[1]["step"] is None, runs
PY
[ "$("$bin/il-sweep" status inj --state done --format json | /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" = 1 ] ||
    die "--state with --format json"
[ "$("$bin/il-sweep" status inj --state preempted --format json)" = "[]" ] || die "no runs is not []"
# what Slurm says: a running task (squeue) and a failed one that accounting remembers twice (a requeue)
latest=$(awk -F'\t' '$1 == "array" { id = $2 } END { print id }' inj/jobs.tsv)
printf '#!/bin/sh\necho "%s_1|RUNNING|None|1:02|5:00|nodeA|1"\n' "$latest" >"$STUB/squeue"
printf '#!/bin/sh\nprintf "%s_2|REQUEUED|0:0|00:00:03|00:05:00|nodeB\\n%s_2|FAILED|3:0|00:00:09|00:05:00|nodeB\\n"\n' \
    "$latest" "$latest" >"$STUB/sacct"
rm -f inj/runs/*/exit_code.tmp inj/runs/"$(awk -F'\t' '$1 == 2 { print $2 }' inj/manifest.tsv)"/exit_code
"$bin/il-sweep" status inj >slurm.txt
[ "$(awk '$1 == 1 { print $3, $9, $10, $12, $13 }' slurm.txt)" = "running 1:02/5:00 nodeA 2 RUNNING" ] ||
    die "a running task's columns: $(cat slurm.txt)"
[ "$(awk '$1 == 2 { print $3, $9, $10, $11, $12, $13 }' slurm.txt)" = "failed 0:09/5:00 nodeB 3 2 FAILED" ] ||
    die "a failed task's columns from sacct: $(cat slurm.txt)"

# cancel: nothing recorded; the recorded jobs still queued, latest first; a failing scancel
cp -r inj nojobs && rm nojobs/jobs.tsv
"$bin/il-sweep" cancel nojobs >cancel.txt || die "cancel without jobs failed: $(cat cancel.txt)"
grep -q 'no jobs recorded.*nothing to cancel' cancel.txt || die "cancel without jobs: $(cat cancel.txt)"
printf '#!/bin/sh\necho "$*" >>"$STUB/scancel.calls"\n' >"$STUB/scancel"
printf '#!/bin/sh\necho 101\necho 101\necho %s\necho 999\n' "$latest" >"$STUB/squeue" # 101 and the latest array
"$bin/il-sweep" cancel inj --dry-run >cancel.txt || die "cancel --dry-run failed"
[ ! -e "$STUB/scancel.calls" ] || die "cancel --dry-run ran scancel"
grep -q "would cancel array job $latest" cancel.txt || die "cancel --dry-run: $(cat cancel.txt)"
"$bin/il-sweep" cancel inj >cancel.txt || die "cancel failed: $(cat cancel.txt)"
[ "$(tr '\n' ' ' <"$STUB/scancel.calls")" = "$latest 101 " ] || die "scancel calls: $(cat "$STUB/scancel.calls")"
grep -q '^# 2 of the [0-9]* recorded job(s) in the queue' cancel.txt || die "cancel: $(cat cancel.txt)"
grep -q '^cancelled array job 101 (runs 0-2)$' cancel.txt || die "cancel: $(cat cancel.txt)"
rm "$STUB/scancel.calls"
printf '#!/bin/sh\nexit 1\n' >"$STUB/squeue" # squeue cannot say: every recorded job, latest first
"$bin/il-sweep" cancel inj >cancel.txt
[ "$(tr '\n' ' ' <"$STUB/scancel.calls")" = "$(awk -F'\t' '{ print $2 }' inj/jobs.tsv | tac | tr '\n' ' ')" ] ||
    die "scancel calls without squeue: $(cat "$STUB/scancel.calls")"
printf '#!/bin/sh\necho "scancel: error: Kill job error" >&2\nexit 1\n' >"$STUB/scancel"
rc=0
"$bin/il-sweep" cancel inj >cancel.txt 2>err.txt || rc=$?
[ "$rc" -eq 1 ] && grep -q '^il-sweep: cancelling aggregation job [0-9]*: scancel exited 1: scancel: error: Kill job error$' err.txt ||
    die "a failing scancel: rc $rc, $(cat err.txt)"
# one line per job that could not be cancelled, and a failure does not stop the others
[ "$(wc -l <err.txt)" -eq "$(wc -l <inj/jobs.tsv)" ] || die "a failing scancel: not one line per job: $(cat err.txt)"
expect_fail "il-sweep cancel" "no DIR given" "$bin/il-sweep" cancel

# a tampered manifest: a run name that leaves the sweep directory is refused by every command that reads
# the manifest, naming the file, the line and the name, before any path is built on it; so is the task
cp -r inj tamper
mkdir -p outside/x && echo '{"kind":"train","step":1,"loss":1}' >outside/x/metrics.jsonl
evil=../../outside/x
awk -F'\t' -v OFS='\t' -v evil="$evil" 'NR == 3 { $2 = evil } { print }' inj/manifest.tsv >tamper/manifest.tsv
want="tamper/manifest.tsv:3: run name '$evil'"
expect_fail il-sweep "$want" "$bin/il-sweep" status tamper
expect_fail il-sweep "$want" "$bin/il-sweep" summary tamper
expect_fail il-sweep "$want" "$bin/il-sweep" resubmit tamper --failed
expect_fail il-sweep "$want" "$bin/il-sweep" cancel tamper
expect_fail il-sweep "$want" "$bin/il-sweep" submit inj.ini --out tamper
rc=0
env -u SLURM_JOB_ID SLURM_ARRAY_TASK_ID=1 SLURM_NTASKS=1 \
    bash tamper/jobs/sweep-task.sbatch "$tmp/tamper" 0 mpirun "$bin/il-train" >task.out 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -qF "manifest.tsv: run 1 is named '$evil'" task.out || die "the task ran a tampered run: rc $rc, $(cat task.out)"
[ ! -e outside/x/exit_code ] || die "the task wrote outside the sweep directory"
