#!/usr/bin/env bash
# make bench-aggregate: il-aggregate on $BENCH_AGG_RUNS (default 1,000) synthetic finished runs x 2 ranks x
# 200 trace steps (generated once by il-synth-traces and consolidated as a finished run's traces are, kept in
# $BENCH_AGG/runs-N, with 10 more runs in $BENCH_AGG/more-N), against the I/O floor il-read-floor measures on
# the same files in the same run, the median of 3 runs of each:
#   cold       no run caches: every run read, its cache written (1 MPI rank, and 2)
#   warm       the caches of the N runs present, 10 more runs finished: only those read (1 rank), and the N
#              runs' summary.nc curves copied from the last summary.nc (docs/aggregate.md "summary.nc reuse")
#   no cache   --no-cache: every run read, no cache read or written, as in a run directory that cannot be
#              written (1 rank)
# with il-aggregate --timings' split of each: reading, reducing, run caches, writing tables and summary.nc,
# figures (IL_GNUPLOT is empty: no figures are drawn).
#   scripts/bench-aggregate.sh BUILD_DIR
set -euo pipefail
build=$1
bin=$build/bin
dir=${BENCH_AGG:-$build/bench-aggregate}
n=${BENCH_AGG_RUNS:-1000}
runs=$dir/runs-$n more=$dir/more-$n
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 IL_GNUPLOT=
# make_runs DIR COUNT FIRST: COUNT consolidated runs numbered from FIRST, generated once
make_runs() {
    [ -d "$1" ] && return
    rm -rf "$1.tmp" "$dir/consolidate"
    "$bin/il-synth-traces" --out "$1.tmp" --runs "$2" --first "$3" --ranks 2 --steps 200 --vary >/dev/null
    "$bin/il-aggregate" --consolidate --no-cache --out "$dir/consolidate" "$1.tmp" >/dev/null
    mv "$1.tmp" "$1"
}
make_runs "$runs" "$n" 0
make_runs "$more" 10 "$n"
files=$(find "$runs" -path '*/trace/*.nc' | wc -l)
mb=$(find "$runs" -path '*/trace/*.nc' -printf '%s\n' | awk '{ s += $1 } END { printf "%.1f", s / 1e6 }')
echo "bench-aggregate: $n runs, $files consolidated trace files, $mb MB; $(nproc) cores; median of 3 runs each"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
uncache() { find "$@" -name aggregate.cache -delete; }
# timed NAME CMD...: runs CMD (an il-aggregate --timings), appending its wall-clock seconds and its split to
# NAME.times: "wall read reduce cache write figures read_runs cached_runs"
timed() {
    local name=$1; shift
    /usr/bin/time -f %e -o "$dir/time.txt" "$@" >"$dir/out.txt" 2>"$dir/err.txt" ||
        { echo "bench-aggregate: $* failed: $(tail -3 "$dir/err.txt")" >&2; exit 1; }
    sed -n 's/.*timings: reading \([0-9.]*\) s, reducing \([0-9.]*\) s, run caches \([0-9.]*\) s.*summary.nc \([0-9.]*\) s, figures \([0-9.]*\) s;.*runs: \([0-9]*\) read, \([0-9]*\) from.*/\1 \2 \3 \4 \5 \6 \7/p' \
        "$dir/out.txt" | awk -v w="$(tail -1 "$dir/time.txt")" '{ print w, $0 }' >>"$dir/$name.times"
    sed -n "s/.*timings: summary.nc: \(.*\)/\1/p" "$dir/out.txt" >"$dir/$name.reuse"
}
agg=("$bin/il-aggregate" --timings --out "$dir/out")
rm -f "$dir"/*.times
floor=()
for i in 1 2 3; do
    floor+=("$("$bin/il-read-floor" "$runs" | sed -n 's/.*MB of values), \([0-9.]*\) s.*/\1/p')")
    uncache "$runs"
    timed cold1 "${agg[@]}" "$runs"
    uncache "$runs"
    timed cold2 mpirun -n 2 --oversubscribe "${agg[@]}" "$runs"
    uncache "$more"
    timed warm "${agg[@]}" "$runs" "$more"
    timed nocache "${agg[@]}" --no-cache "$runs"
done
f=$(printf '%s\n' "${floor[@]}" | median)
printf '  read floor (every variable of every file, one process): %.2f s, %.0f MB/s\n' "$f" "$(awk -v mb="$mb" -v f="$f" 'BEGIN { print mb / f }')"
cold=0
for name in cold1 cold2 warm nocache; do
    # the median of each column
    m=()
    for c in 1 2 3 4 5 6 7 8; do m+=("$(awk -v c=$c '{ print $c }' "$dir/$name.times" | median)"); done
    case $name in
    cold1) label="cold, 1 rank      " cold=${m[0]} ;;
    cold2) label="cold, 2 ranks     " ;;
    warm) label="warm (+10 runs)   " ;;
    nocache) label="no cache, 1 rank  " ;;
    esac
    awk -v l="$label" -v f="$f" -v c="$cold" -v w="${m[0]}" -v r="${m[1]}" -v rd="${m[2]}" -v ca="${m[3]}" \
        -v wr="${m[4]}" -v fg="${m[5]}" -v nr="${m[6]}" -v nc="${m[7]}" 'BEGIN {
        printf "  %s %.2f s, %.2f x the floor, %.2f x cold (1 rank); %d runs read, %d from caches\n", l, w, w / f, w / c, nr, nc
        printf "  %s   reading %.2f s, reducing %.2f s, run caches %.2f s (summed over ranks), tables and summary.nc %.2f s, figures %.2f s\n", "                  ", r, rd, ca, wr, fg
    }'
    echo "                       summary.nc (the last of the 3): $(cat "$dir/$name.reuse")"
done
echo "  goals at 1,000 runs: warm at most 0.15 x cold, cold at most 1.3 x the floor"
