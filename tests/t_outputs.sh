#!/usr/bin/env bash
# The outputs as a researcher reads them, with NCO, xarray and a CF/ACDD check: synthetic runs that were
# resumed (overlapping segments) are consolidated and aggregated; then
#   - ncra and ncrcat work along summary.nc's one record dimension, `run`, and leave the others alone;
#   - a consolidated trace holds each step once, and ncrcat/ncecat take it;
#   - tests/cf_check.py finds the CF and ACDD attributes on a trace and on summary.nc;
#   - tests/xr_check.py opens both in xarray: coordinates, integer types, the docs' examples;
#   - docs/aggregate.md's xarray recipe runs as written: summary.nc by run name, a run's ranks merged.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_outputs
py=/usr/bin/python3 # Debian's, where python3-xarray lives
tests=$root/tests

"$bin/il-synth-traces" --out sweep --runs 3 --ranks 2 --steps 12 --layers 2 --seq 8 --width 8 --vary --restart >/dev/null
ls sweep/run0000/trace/*.seg0001.nc >/dev/null || die "the synthetic runs have no second segment"
IL_GNUPLOT= "$bin/il-aggregate" --consolidate --out out sweep >agg.out 2>agg.err ||
    die "il-aggregate --consolidate exited $?: $(cat agg.err)"
grep -q "consolidated 3 runs into 6 rank files" agg.out || die "not consolidated: $(cat agg.out)"
[ -z "$(ls sweep/*/trace/*.seg*.nc 2>/dev/null)" ] || die "segments left after consolidation"

# a consolidated trace: every step once, in order
trace=sweep/run0000/trace/rank0000.nc
ncdump -v step "$trace" | sed -n '/^ step = /,/;/p' | tr -d ' step=;\n}' | tr ',' '\n' >steps.txt
awk 'NF && NR > 1 && $1 <= last { bad = 1 } NF { last = $1 } END { exit bad }' steps.txt ||
    die "$trace: steps repeat or are out of order: $(tr '\n' ' ' <steps.txt)"
ncrcat -O "$trace" rcat.nc >/dev/null 2>&1 || die "ncrcat refuses $trace"
ncecat -O sweep/run0000/trace/rank0000.nc sweep/run0001/trace/rank0000.nc ecat.nc >/dev/null 2>&1 ||
    die "ncecat refuses two runs' traces"

# summary.nc with NCO: run is the only record dimension
sum=out/summary.nc
dimlen() { ncdump -h "$1" | sed -n "s/^\t$2 = \(UNLIMITED ; \/\/ (\)\{0,1\}\([0-9]*\).*/\2/p"; }
steps=$(dimlen "$sum" step) depth=$(dimlen "$sum" depth) pos=$(dimlen "$sum" position)
[ "$(dimlen "$sum" run)" = 3 ] || die "summary.nc: run = $(dimlen "$sum" run), expected 3"
ncra -O -v lens "$sum" ra.nc >/dev/null 2>&1 || die "ncra -v lens fails on summary.nc"
[ "$(dimlen ra.nc run)" = 1 ] && [ "$(dimlen ra.nc step)" = "$steps" ] && [ "$(dimlen ra.nc depth)" = "$depth" ] ||
    die "ncra -v lens gives run $(dimlen ra.nc run), step $(dimlen ra.nc step), depth $(dimlen ra.nc depth)"
ncrcat -O "$sum" "$sum" cat.nc >/dev/null 2>&1 || die "ncrcat fails on summary.nc"
[ "$(dimlen cat.nc run)" = 6 ] && [ "$(dimlen cat.nc depth)" = "$depth" ] && [ "$(dimlen cat.nc position)" = "$pos" ] ||
    die "ncrcat summary.nc summary.nc gives run $(dimlen cat.nc run), depth $(dimlen cat.nc depth), position $(dimlen cat.nc position)"

# CF and ACDD
for f in "$trace:trace" "$sum:summary"; do
    ncdump -hs "${f%:*}" | "$py" "$tests/cf_check.py" "${f##*:}" >cf.txt || die "$(cat cf.txt)"
done
# the checker can fail: the header of summary.nc as it was (every dimension unlimited, a step axis "T"
# of units "1", integers with a _FillValue, no institution)
ncdump -hs "$sum" | sed -e 's/^\t\(depth\|position\) = [0-9]* ;/\t\1 = UNLIMITED ; \/\/ (7 currently)/' \
    -e 's/^\t\tstep:units = "1" ;/&\n\t\tstep:axis = "T" ;/' -e 's/^\t\td_model:long_name/\t\td_model:_FillValue = -1LL ;\n&/' \
    -e '/:institution = /d' >old.txt
if "$py" "$tests/cf_check.py" summary <old.txt >cf.txt; then die "cf_check passed the old summary.nc's header"; fi
for want in "only run may be" "axis T with units" "d_model: an integer always present has a _FillValue" \
            "institution missing"; do
    grep -q "$want" cf.txt || die "cf_check did not say '$want': $(cat cf.txt)"
done

# xarray
"$py" "$tests/xr_check.py" "$sum" "$trace" >xr.txt 2>&1 || die "$(cat xr.txt)"

# docs/aggregate.md's xarray lines, run as they are written (results/ and runs/ are this sweep's), then
# checked: the run chosen by name, and the merged ranks' groups, each once, in order, with its rank file's
# values, whose window-weighted mean is summary.nc's norm
ln -s out results && ln -s sweep runs
awk '/<!-- xarray-recipe/ { f = 1; next } f && /^```python/ { g = 1; next } g && /^```/ { exit } g' \
    "$root/docs/aggregate.md" >recipe.py
grep -q 'xr.concat' recipe.py && grep -q 'sel(run=' recipe.py || die "docs/aggregate.md: no xarray recipe block"
cat >>recipe.py <<'EOF'
import numpy as np
problems = []
if "run" not in ds.indexes or list(ds.indexes["run"]) != [str(n) for n in ds.run_name.values]:
    problems.append(f"summary.nc: run is not indexed by the run names: {ds.indexes}")
G, D, T = int(ranks[0].probe_groups), int(ds.n_depth.sel(run="run0001")), int(ds.n_position.sel(run="run0001"))
if list(tr.group.values) != list(range(G)):
    problems.append(f"merged traces: groups {list(tr.group.values)}, not 0..{G - 1}")
for r in ranks:
    for g in r.group.values:
        if not np.array_equal(r.norm.sel(group=g).values, tr.norm.sel(group=g).values, equal_nan=True):
            problems.append(f"merged traces: group {g} differs from its rank file's")
w = tr.group_windows.astype(float)
want = ((tr.norm.sel(step=100) * w).sum("group") / w.sum()).values
got = curve.values[:D, :T]
if curve.dims != ("depth", "position") or not np.allclose(got, want, rtol=1e-5):
    problems.append(f"summary.nc's norm of run0001 at step 100 is not the groups' weighted mean: {got} {want}")
print("\n".join(problems))
raise SystemExit(1 if problems else 0)
EOF
"$py" recipe.py >recipe.txt 2>&1 || die "docs/aggregate.md's xarray lines: $(tail -5 recipe.txt)"
echo "t_outputs: ok"
