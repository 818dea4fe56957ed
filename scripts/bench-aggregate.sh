#!/usr/bin/env bash
# make bench-aggregate: il-aggregate on 1,000 synthetic finished runs x 2 ranks x 200 trace steps (generated
# once by il-synth-traces and consolidated as a finished run's traces are, kept in $BENCH_AGG/runs), on 1
# MPI rank and on 2, against the I/O floor il-read-floor measures on the same files in the same run: the
# median of 3 runs of each, with the bytes read and MB/s.
#   scripts/bench-aggregate.sh BUILD_DIR
set -euo pipefail
build=$1
bin=$build/bin
dir=${BENCH_AGG:-$build/bench-aggregate}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 IL_GNUPLOT=
if [ ! -d "$dir/runs" ]; then
    rm -rf "$dir/runs.tmp" "$dir/consolidate"
    "$bin/il-synth-traces" --out "$dir/runs.tmp" --runs 1000 --ranks 2 --steps 200 --vary >/dev/null
    "$bin/il-aggregate" --consolidate --out "$dir/consolidate" "$dir/runs.tmp" >/dev/null
    mv "$dir/runs.tmp" "$dir/runs"
fi
files=$(find "$dir/runs" -path '*/trace/*.nc' | wc -l)
mb=$(find "$dir/runs" -path '*/trace/*.nc' -printf '%s\n' | awk '{ s += $1 } END { printf "%.1f", s / 1e6 }')
echo "bench-aggregate: $(ls "$dir/runs" | wc -l) runs, $files consolidated trace files, $mb MB; $(nproc) cores;" \
     "median of 3 runs each"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
floor=() one=() two=()
for i in 1 2 3; do
    floor+=("$("$bin/il-read-floor" "$dir/runs" | sed -n 's/.*MB of values), \([0-9.]*\) s.*/\1/p')")
    one+=("$(seconds "$bin/il-aggregate" --out "$dir/out" "$dir/runs")")
    two+=("$(seconds mpirun -n 2 --oversubscribe "$bin/il-aggregate" --out "$dir/out" "$dir/runs")")
done
f=$(printf '%s\n' "${floor[@]}" | median) o=$(printf '%s\n' "${one[@]}" | median) t=$(printf '%s\n' "${two[@]}" | median)
awk -v mb="$mb" -v f="$f" -v o="$o" -v t="$t" 'BEGIN {
    printf "  read floor (every variable of every file, one process): %.2f s, %.0f MB/s\n", f, mb / f
    printf "  il-aggregate, 1 rank:  %.2f s, %.0f MB/s, %.2f x the floor\n", o, mb / o, o / f
    printf "  il-aggregate, 2 ranks: %.2f s, %.0f MB/s, %.2f x the floor, speed-up %.2f over 1 rank\n", t, mb / t, t / f, o / t
}'
