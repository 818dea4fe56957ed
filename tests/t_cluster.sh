#!/usr/bin/env bash
# innerloop on a private Slurm of 2 nodes on this one machine (jobs/slurm-local.sh, SLURM_LOCAL_NODES=2;
# docs/sweeps.md, "A multi-node Slurm on one machine"). Not in `make test`: `make test-cluster` runs it.
#  a. a traced 2-rank run with one rank per node, through `srun --mpi=pmix` and through `mpirun` in a
#     batch job, ends with the parameters of a 2-rank mpirun run on one node, bit for bit; each rank
#     records the node it ran on, and the two differ. The step times are printed (information only).
#  b. a sweep's array tasks run on both nodes (the task log names the Slurm node);
#  c. a run whose time limit expires checkpoints and requeues itself; its node is drained meanwhile, so
#     it resumes ("resumed at step") on the other node and ends with an uninterrupted run's parameters;
#  d. the sweep's aggregation job writes aggregate/runs.csv;
#  e. a probe sweep ([probe] runs = two of that sweep's runs) runs one il-probe task of 2 ranks per run and
#     its aggregation job, each probe recording its array task.
# Each node has a private /tmp, so the cluster, the binaries the jobs run and every run directory live in
# /var/tmp/il-cluster-XXXX, removed (the cluster stopped first) however the test exits.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_cluster
rm -rf "$tmp"
cd /
tmp=$(mktemp -d /var/tmp/il-cluster-XXXX)
cluster=$tmp/slurm
trap '"$root/jobs/slurm-local.sh" stop "$cluster" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
cd "$tmp"
# the tools and job scripts the jobs use, where every node sees them (il-sweep finds jobs/ above itself,
# il-aggregate analysis/plots)
mkdir -p il/bin il/analysis nodes
cp "$bin"/il-train "$bin"/il-sweep "$bin"/il-aggregate "$bin"/il-ckpt "$bin"/il-prepare "$bin"/il-probe il/bin/
cp -r "$root/jobs" il/
cp -r "$root/analysis/plots" il/analysis/
bin=$tmp/il/bin
source "$root/tests/sweep_lib.sh" # wait_jobs, state_of, count_state

t0=$SECONDS
SLURM_LOCAL_NODES=2 SLURM_LOCAL_CPUS=2 SLURM_LOCAL_REQUEUE_HOLD=5 "$root/jobs/slurm-local.sh" start "$cluster" >up.out ||
    die "could not start a 2-node private Slurm: $(cat up.out) (see $cluster/log)"
source "$cluster/env"
[ "$(sinfo -h -N -t idle -o %N | sort -u | paste -sd' ')" = "n1 n2" ] || die "nodes: $(sinfo -N)"
# a DIR under /tmp is refused for several nodes, in one line
rc=0; SLURM_LOCAL_NODES=2 "$root/jobs/slurm-local.sh" start /tmp/il-cluster-refused >out.txt 2>err.txt || rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'under /tmp' err.txt || die "a DIR under /tmp: exit $rc, $(cat err.txt)"
[ ! -e /tmp/il-cluster-refused ] || die "the refused start created its DIR"
"$root/jobs/slurm-local.sh" status "$cluster" >status.out
grep -q '^slurmd-n1: running' status.out && grep -q '^slurmd-n2: running' status.out || die "status: $(cat status.out)"

tiny_corpus --tokenizer byte
model=$small_model
# as an il-train config: "section.key = v" lines into sections
ini() { awk -F'[.]' '/=/ { s = $1; sub(/^[^.]*\./, ""); if (s != last) print "[" s "]"; last = s; print }'; }
printf '%s\ntrain.max_steps = 100\neval.interval = 50\neval.batches = 1\nrun.log_interval = 50\n' "$model" | ini >a.ini
final=ckpt/step_00000100
train=(--config a.ini --set run.out_dir="$tmp/runs")
median_ms() { sed -n 's/.*"step_ms":\([0-9.eE+-]*\).*/\1/p' "runs/$1/metrics.jsonl" | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
same() { "$bin/il-ckpt" diff "runs/one/$final" "runs/$1/$final" >"diff_$1.out" || die "$1 differs from the 1-node run: $(cat "diff_$1.out")"; }
# each rank writes the Slurm node it runs on to nodes/RUN.RANK, then becomes il-train
where='echo "$SLURMD_NODENAME" >"nodes/$0.${OMPI_COMM_WORLD_RANK:-$SLURM_PROCID}"; shift; exec "$@"'
two_nodes() {
    [ "$(cat "nodes/$1.0" "nodes/$1.1" 2>/dev/null | sort -u | grep -c .)" = 2 ] ||
        die "$1: the ranks did not run on two nodes: $(head nodes/"$1".* 2>&1)"
}

# a. the reference: 2 ranks on one node, mpirun outside Slurm
mpirun -n 2 --oversubscribe "$bin/il-train" "${train[@]}" --set run.name=one >one.out 2>&1 || die "1-node run: $(tail -5 one.out)"
# 2 ranks on 1 node through srun --mpi=pmix
srun --mpi=pmix -N1 -n2 sh -c "$where" srun1 x "$bin/il-train" "${train[@]}" --set run.name=srun1 >srun1.out 2>&1 ||
    die "srun -N1 -n2: $(tail -5 srun1.out)"
same srun1
[ "$(cat nodes/srun1.0 nodes/srun1.1 | sort -u | grep -c .)" = 1 ] || die "srun -N1 used two nodes"
# 2 ranks on 2 nodes through srun --mpi=pmix
srun --mpi=pmix --nodes=2 --ntasks-per-node=1 sh -c "$where" pmix x "$bin/il-train" "${train[@]}" --set run.name=pmix \
    >pmix.out 2>&1 || die "srun --mpi=pmix on 2 nodes: $(tail -5 pmix.out)"
two_nodes pmix
same pmix
grep -q '"world_size":2' runs/pmix/launches.jsonl || die "pmix: not one world of 2 ranks"
ls runs/pmix/trace/rank*.nc >/dev/null 2>&1 || die "pmix: no traces"
# 2 ranks on 2 nodes through mpirun in a batch job. Each node's orted binds its rank to "core 0", and on
# one host that is the same core for both: --bind-to none (docs/sweeps.md).
printf '#!/usr/bin/env bash\nmpirun -n 2 --map-by node --bind-to none sh -c %q mpirun x %q %s --set run.name=mpirun\necho $? >mpirun.rc\n' \
    "$where" "$bin/il-train" "$(printf '%q ' "${train[@]}")" >mpirun.sbatch
job=$(sbatch --parsable --nodes=2 --ntasks-per-node=1 --chdir="$tmp" --output="$tmp/mpirun.log" mpirun.sbatch)
wait_jobs 120
[ "$(cat mpirun.rc 2>/dev/null)" = 0 ] || die "mpirun in batch job $job: $(cat mpirun.rc 2>/dev/null) $(tail -5 mpirun.log)"
two_nodes mpirun
same mpirun
echo "a. 2 ranks on 2 nodes (srun --mpi=pmix: ranks on $(cat nodes/pmix.0 nodes/pmix.1 | paste -sd,); mpirun in a batch job:" \
    "$(cat nodes/mpirun.0 nodes/mpirun.1 | paste -sd,)) = 2 ranks on 1 node, bit for bit ($((SECONDS - t0)) s)"
echo "   median step_ms, 100 steps of L2 C64 T32 (118,528 parameters), global batch 8: 1 node mpirun $(median_ms one)," \
    "1 node srun $(median_ms srun1), 2 nodes srun $(median_ms pmix), 2 nodes mpirun $(median_ms mpirun)"

# b, d. a sweep of 4 runs of 2 ranks: a node offers 2 CPUs, so two tasks run at once, one on each node
t1=$SECONDS
launch=$'launcher = srun\nmpi = pmix'
printf '[sweep]\nname = spread\nranks = 2\ntime = 00:05:00\n%s\n[fixed]\n%s\ntrain.max_steps = 30\neval.interval = 10\neval.batches = 1\nrun.log_interval = 10\n[grid]\ntrain.seed = 1, 2, 3, 4\n' \
    "$launch" "$model" >spread.ini
"$bin/il-sweep" submit spread.ini --out spread >submit.out 2>&1 || die "submit: $(cat submit.out)"
wait_jobs 240
"$bin/il-sweep" status spread >spread_status.txt
[ "$(count_state spread done)" -eq 4 ] || die "not all 4 runs done: $(cat spread_status.txt spread/logs/*)"
cat spread/logs/*_[0-9]*.out >spread_logs.txt
{ grep -o 'Slurm node n[0-9]*' spread_logs.txt || true; } | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $4, $1 }' >spread_nodes.txt
grep -q 'n1 x' spread_nodes.txt && grep -q 'n2 x' spread_nodes.txt || die "the sweep's tasks did not use both nodes: $(cat spread_nodes.txt; grep 'sweep-task' spread_logs.txt)"
for d in spread/runs/*/; do
    grep -q '"world_size":2' "$d/launches.jsonl" || die "$d did not run on 2 ranks"
done
[ -s spread/aggregate/runs.csv ] || die "the aggregation job wrote no aggregate/runs.csv: $(cat spread/logs/aggregate_* 2>&1 | tail -5)"
[ "$(tail -n +2 spread/aggregate/runs.csv | grep -c .)" -eq 4 ] || die "aggregate/runs.csv has not 4 rows: $(cat spread/aggregate/runs.csv)"
echo "b. the sweep's 4 tasks ($(echo "$launch" | paste -sd' ')) ran on $(cat spread_nodes.txt); d. aggregate/runs.csv has 4 rows ($((SECONDS - t1)) s)"

# e. a probe sweep over two of those runs: their checkpoints, one il-probe task each, then the aggregation
t3=$SECONDS
probed=$(ls -d spread/runs/*/ | head -2 | sed 's#/$##' | paste -sd, | sed 's/,/, /')
printf '[sweep]\nname = probes\nranks = 2\ntime = 00:05:00\n%s\n[probe]\nruns = %s\ndata = data/train.bin\nwindows = 4\ngroups = 2\n' \
    "$launch" "$probed" >probes.ini
"$bin/il-sweep" submit probes.ini --out probes >submit_probes.out 2>&1 || die "submit: $(cat submit_probes.out)"
wait_jobs 120
[ "$(count_state probes done)" -eq 2 ] || die "the probe runs are not done: $("$bin/il-sweep" status probes; cat probes/logs/*)"
for d in probes/runs/*/; do
    grep -q '"world_size":2,.*"SLURM_ARRAY_JOB_ID":"[0-9]*","SLURM_ARRAY_TASK_ID":"[01]"' "$d/launches.jsonl" ||
        die "$d: not 2 ranks of an array task: $(cat "$d/launches.jsonl")"
done
[ "$(tail -n +2 probes/aggregate/runs.csv 2>/dev/null | grep -c .)" -eq 2 ] ||
    die "the probe sweep's aggregate/runs.csv has not 2 rows: $(cat probes/logs/aggregate_* 2>&1 | tail -5)"
echo "e. a probe sweep's 2 il-probe tasks and its aggregation job: aggregate/runs.csv has 2 rows ($((SECONDS - t3)) s)"

# c. a time limit mid-training: slurmctld warns 15 to 45 s into an attempt (2-minute limit, warning 75 s
# before it; tests/t_slurm_requeue.sh), so the run is sized to about 50 s here: its time per step is
# measured from a 2000-step run less the 100-step reference (start-up cancels; a shorter difference drowns
# in the jitter of MPI's start-up)
t2=$SECONDS
wall_ms() {
    local s=$(date +%s%N)
    mpirun -n 2 --oversubscribe "$bin/il-train" "${train[@]}" "$@" >/dev/null
    echo $((($(date +%s%N) - s) / 1000000))
}
t100=$(wall_ms --set run.name=probe100 --set eval.interval=0)
t2000=$(wall_ms --set run.name=probe2000 --set eval.interval=0 --set train.max_steps=2000)
steps=$((50000 * 1900 / (t2000 > t100 ? t2000 - t100 : 1)))
[ "$steps" -ge 200 ] || steps=200
printf '[sweep]\nname = rq\nranks = 2\ntime = 2\nsignal_seconds = 75\nrequeue = yes\n%s\n[fixed]\n%s\ntrain.max_steps = %s\neval.interval = 0\nrun.log_interval = 100\nrun.ckpt_interval = 0\n[grid]\ntrain.seed = 7\n' \
    "$launch" "$model" "$steps" >rq.ini
"$bin/il-sweep" submit rq.ini --out rq >submit_rq.out 2>&1 || die "submit: $(cat submit_rq.out)"
array=$(awk -F'\t' '$1 == "array" { print $2 }' rq/jobs.tsv)
run=$(awk -F'\t' 'NR == 2 { print $2 }' rq/manifest.tsv)
first=""
deadline=$((SECONDS + 60))
until [ -n "$first" ]; do
    [ $SECONDS -lt $deadline ] || die "the run did not start in 60 s: $(squeue)"
    first=$(squeue -h -j "$array" -t RUNNING -o %N)
    sleep 0.2
done
# drain the node of the first attempt: it goes on running there, and the requeued attempt has to go elsewhere
scontrol update nodename="$first" state=drain reason=t_cluster
wait_jobs 400
mpirun -n 2 --oversubscribe "$bin/il-train" --config "rq/configs/$run.ini" --set run.out_dir="$tmp/rqref" >rqref.out 2>&1 ||
    die "uninterrupted reference run: $(tail -5 rqref.out)"
log=$(cat rq/logs/*_0.out)
attempts=$({ grep 'sweep-task: run 0' <<<"$log" || true; } | sed -n 's/.*(Slurm node \(n[0-9]*\)).*/\1/p' | paste -sd' ')
starts=$(sed 's/.*"start_step":\([0-9]*\).*/\1/' "rq/runs/$run/launches.jsonl" | paste -sd' ')
echo "c. $steps steps; attempts on nodes: $attempts, starting at steps: $starts; $first drained after the first started ($((SECONDS - t2)) s)"
grep -q 'SIGUSR2 received' <<<"$log" || die "no warning signal reached the batch shell: $log"
grep -q 'requeued' <<<"$log" || die "the task did not requeue itself: $log"
[ "$(wc -w <<<"$attempts")" -ge 2 ] || die "expected 2 or more attempts, got: $attempts"
[ "${attempts%% *}" = "$first" ] || die "the first attempt ran on ${attempts%% *}, squeue said $first"
for n in ${attempts#* }; do
    [ "$n" != "$first" ] || die "an attempt after the drain ran on the drained node $first: $attempts"
done
grep -q 'resumed at step [1-9]' "rq/runs/$run/log.txt" || die "the run did not resume from a checkpoint: $(grep -i 'resum\|start' "rq/runs/$run/log.txt")"
[ "$(state_of rq 0)" = done ] || die "the run did not end done: $("$bin/il-sweep" status rq)"
last=$(printf 'ckpt/step_%08d' "$steps")
[ -f "rq/runs/$run/$last/COMPLETE" ] || die "no final checkpoint $last: $(ls "rq/runs/$run/ckpt")"
"$bin/il-ckpt" diff "rqref/$run/$last" "rq/runs/$run/$last" >diff_rq.out ||
    die "the requeued run differs from the uninterrupted one: $(cat diff_rq.out)"
echo "t_cluster: ok ($SECONDS s)"
