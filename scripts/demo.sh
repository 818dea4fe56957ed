#!/usr/bin/env bash
# The main job (make demo): on the Brown Corpus, a small scaling sweep (3 model sizes x 2 seeds, 2 MPI
# ranks each, traced), run as a Slurm job array on a private single-node Slurm that this script starts
# and stops, then aggregated into tables, hypothesis verdicts and figures.
#   scripts/demo.sh BIN [SPEC]   BIN: the directory of the il-* tools; SPEC: jobs/examples/demo-sweep.ini
#   DEMO_MODE=local              runs the same sweep here with mpirun, one run after another
#   DEMO_CLUSTER=DIR             where the private Slurm lives (default: beside BIN, demo-slurm)
# It works in the current directory (data paths in the spec are relative to it; the sweep goes to
# sweeps/<name>/). Re-running reuses the finished runs. The tests run it on a tiny spec.
set -euo pipefail
bin=$(cd "${1:?usage: scripts/demo.sh BIN [SPEC]}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
spec=${2:-$root/jobs/examples/demo-sweep.ini}
mode=${DEMO_MODE:-slurm}
spec_value() { sed -n "s/^$1 *= *\([^ ;]*\).*/\1/p" "$spec" | tail -1; }
sweep=sweeps/$(spec_value name)
train_data=$(spec_value data.train_path)
val_data=$(spec_value data.val_path)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
say() { printf '\n== %s\n' "$*"; }

case $mode in
slurm)
    say "mode: Slurm, a private single-node cluster (DEMO_MODE=local runs without Slurm)"
    cluster=${DEMO_CLUSTER:-$(dirname "$bin")/demo-slurm}
    "$root/jobs/slurm-local.sh" stop "$cluster" >/dev/null 2>&1 || true # left by an interrupted demo
    "$root/jobs/slurm-local.sh" start "$cluster" ||
        { echo "demo: could not start a private Slurm; without one, run the same sweep with: make demo LOCAL=1" >&2; exit 1; }
    trap '"$root/jobs/slurm-local.sh" stop "$cluster" >/dev/null' EXIT
    # shellcheck disable=SC1091
    source "$cluster/env"
    "$bin/il-sweep" submit "$spec" --out "$sweep"
    say "waiting for the runs (il-sweep status $sweep for the full table)"
    start=$(date +%s)
    while :; do
        table=$("$bin/il-sweep" status "$sweep")
        counts=$(awk '$1 ~ /^[0-9]+$/ { n[$3]++ } END { for (s in n) printf "%d %s, ", n[s], s }' <<<"$table")
        agg=$(awk '$1 == "aggregate" { id = $2 } END { print id }' "$sweep/jobs.tsv" 2>/dev/null)
        busy=$(squeue -h -o %i 2>/dev/null | wc -l)
        state="$counts$busy job(s) in the queue"
        line=$(printf '%4ds  %s' $(($(date +%s) - start)) "$state")
        if [ -t 1 ]; then printf '\r  %s   ' "$line"                           # a terminal: one line, redrawn
        elif [ "$state" != "${last:-}" ]; then echo "  $line"; last=$state; fi # a log: each change
        [ "$busy" -eq 0 ] && break
        sleep 5
    done
    [ -t 1 ] && echo
    [ -z "${agg:-}" ] || say "the aggregation job $agg has run (log: $sweep/logs/aggregate_$agg.out)"
    ;;
local)
    say "mode: local, mpirun without Slurm"
    "$bin/il-sweep" submit "$spec" --out "$sweep" --local || true # failed runs show in the status below
    ;;
*)
    echo "demo: DEMO_MODE must be slurm or local, not '$mode'" >&2
    exit 2
    ;;
esac

say "runs"
"$bin/il-sweep" status "$sweep"
rc=0
"$bin/il-aggregate" --out "$sweep/aggregate" "$sweep/runs" >"$sweep/aggregate.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 3 ] || { cat "$sweep/aggregate.log"; exit 1; }
say "runs table ($sweep/aggregate/runs.md)"
cat "$sweep/aggregate/runs.md"
say "hypotheses ($sweep/aggregate/claims.md)"
# the context block and the summary table; the sections with every run's interval follow in the file
awk '/^## How to read/ { skip = 1 } /^\| hypothesis \| predicted/ { skip = 0; table = 1 }
     table && !/^\|/ { exit } !skip && NR > 2 { print }' "$sweep/aggregate/claims.md"
say "validation loss against the unigram baseline"
"$bin/il-eval" --unigram "$(dirname "$train_data")/train.counts" --data "$val_data"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_loss") c = i; next }
         $c != "" && (best == "" || $c < best) { best = $c; run = $1 }
         END { printf "best validation loss: %s nats/token (%s)\n", best, run }' "$sweep/aggregate/runs.csv"
say "figures"
ls "$sweep"/aggregate/figures/*.png 2>/dev/null || echo "(none: gnuplot missing, see $sweep/aggregate.log)"
[ $rc -eq 0 ] || say "some inputs were skipped: $sweep/aggregate/skipped.md"
echo
echo "summary.nc (xarray, NCO): $sweep/aggregate/summary.nc; traces: $sweep/runs/*/trace/"
