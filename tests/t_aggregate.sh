#!/usr/bin/env bash
# il-aggregate as a user runs it, on synthetic sweeps from il-synth-traces: the table layout against golden
# files (tests/golden/aggregate, UPDATE_GOLDEN=1 rewrites them), exit code 3 with every bad input named in
# skipped.csv while the good runs are still aggregated, inputs left untouched, summary.nc readable with
# per-run lengths, figures drawn by gnuplot and skipped by name without it, command-line errors, and the
# same outputs, messages and exit codes from 2 and 3 MPI ranks as from one process.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_aggregate
agg=$bin/il-aggregate
synth=$bin/il-synth-traces

# golden: two tiny runs (L 2, T 4, 4 trace steps, 2 ranks), layout of every table
"$synth" --out sweep --runs 2 --ranks 2 --steps 4 --layers 2 --seq 4 --width 8 >/dev/null
IL_GNUPLOT= "$agg" --out out sweep >agg.out 2>agg.err || die "exit $? on good input: $(cat agg.err)"
golden=$root/tests/golden/aggregate
for f in runs.csv runs.md genres.csv genres.md norms.csv norms.md inner.csv inner.md claims.md claims.csv skipped.csv; do
    if [ -n "${UPDATE_GOLDEN:-}" ]; then cp "out/$f" "$golden/$f"; continue; fi
    diff -u "$golden/$f" "out/$f" >diff.txt || die "out/$f differs from tests/golden/aggregate/$f: $(head -20 diff.txt)"
done
# runs.md stays narrow: the genres have a table of their own
! grep -q 'val_news' out/runs.md && grep -q '^| run0000 | 2.07021 | 2.12021 | 2.04021 |$' out/genres.md ||
    die "the genre losses are not in genres.md alone: $(cat out/runs.md out/genres.md)"
grep -q 'figures skipped: norm_position lens_depth cos_depth signals loss_curves h1_sizes genres scaling; the tables are complete' agg.err ||
    die "no message naming the skipped figures: $(cat agg.err)"
# the same with gnuplot simply absent from PATH
PATH=/nonexistent "$agg" --out out2 sweep >/dev/null 2>agg2.err || die "exit $? without gnuplot on PATH"
grep -q 'figures skipped' agg2.err || die "no figures message without gnuplot on PATH: $(cat agg2.err)"
[ -s out2/runs.csv ] || die "tables not written without gnuplot"

# summary.nc: dimensions, per-run lengths, CF/ACDD attributes, one variable per sweep parameter
ncdump -h out/summary.nc >h.txt || die "ncdump cannot read summary.nc"
# run is the only record dimension (NCO's record tools work along it); the others are fixed
for d in 'run = UNLIMITED' 'step = 4 ;' 'depth = 3 ;' 'layer = 2 ;' 'position = 4 ;'; do
    grep -qF "	$d" h.txt || die "summary.nc lacks dimension $d"
done
for v in 'norm(run, step, depth, position)' 'lens(run, step, depth)' 'cos(run, step, layer)' 'step(step)' \
         'd_model(run)' 'lr(run)' 'run_name(run)' 'string run(run) ;'; do
    grep -qF "$v" h.txt || die "summary.nc lacks $v"
done
grep -q ':Conventions = "CF-1.10, ACDD-1.3"' h.txt || die "summary.nc lacks Conventions"
ncdump -v step out/summary.nc | grep -q '^ step = 0, 10, 20, 30 ;' || die "the step coordinate is not 0, 10, 20, 30"

# The figures' text as gnuplot draws it: a wrapper gnuplot draws each PNG and draws it again through an SVG
# terminal, whose text tests/svg_text.py lists. Runs named my_run and a genre belles_lettres must read so
# (gnuplot's enhanced text made "_" a subscript: "bellesjettres"); the axes of a few points have ticks; every
# run has its own line; gnuplot's warnings on a one-point run stay out of stderr (figures/gnuplot.log).
figure_text() {
    "$synth" --out under --prefix my_run --runs 2 --ranks 2 --steps 4 --layers 2 --seq 4 --width 8 >/dev/null
    sed -i 's/"fiction"/"belles_lettres"/' under/*/metrics.jsonl
    mkdir svg
    cat >gp <<'EOF'
#!/usr/bin/env bash
gnuplot "$@" || exit
[ $# -eq 3 ] || exit 0 # the terminal probe
out=$(sed -n "s/.*outfile='\([^']*\)'.*/\1/p" <<<"$2") && stem=$(basename "${out%%.png*}")
gnuplot -e "$2; term='svg'; outfile='$SVG_DIR/$stem.svg'" "$3"
EOF
    chmod +x gp
    SVG_DIR=$PWD/svg IL_GNUPLOT=$PWD/gp "$agg" --out outf under >/dev/null 2>aggf.err || die "exit $? drawing the figures: $(cat aggf.err)"
    local f
    for f in svg/*.svg; do /usr/bin/python3 "$here/svg_text.py" "$f" >"${f%.svg}.txt" || die "$f: unreadable SVG"; done
    for f in genres norm_position_my_run0000 lens_depth_my_run0000 cos_depth_my_run0000 signals_my_run0000 \
             norm_position_my_run0001 lens_depth_my_run0001 cos_depth_my_run0001 signals_my_run0001; do
        [ -s "svg/$f.txt" ] || die "figure $f not drawn: $(cat aggf.err)"
        grep -qP '^text\t[^\t]*\t[^|]*my_run000[01]' "svg/$f.txt" ||
            die "$f: the run's name does not read my_run...: $(grep my "svg/$f.txt")"
    done
    grep -qP '^text\t[^\t]*\tbelles_lettres$' svg/genres.txt ||
        die "genres: no tick reads belles_lettres: $(grep belles svg/genres.txt)"
    # scaling of one size, no fit: the reason on the figure; 3 y ticks or more, 2 x ticks or more
    grep -qP '^text\t[^\t]*\tno fit: 2 runs of 1 size' svg/scaling.txt || die "scaling: no 'no fit' label: $(cat svg/scaling.txt)"
    [ "$(grep -cP '^text\tend\t *[0-9.]+$' svg/scaling.txt)" -ge 3 ] &&
        [ "$(grep -cP '^text\tmiddle\t *[0-9.]+[kMG]?$' svg/scaling.txt)" -ge 2 ] || die "scaling: too few ticks: $(cat svg/scaling.txt)"
    # loss curves: each run a key entry of its own colour or dash; the x axis ends at the last step, 30
    [ "$(grep -cP '^plot\tmy_run000[01] \(' svg/loss_curves.txt)" -eq 2 ] &&
        [ "$(grep -P '^plot\tmy_run' svg/loss_curves.txt | cut -f3,4 | sort -u | wc -l)" -eq 2 ] ||
        die "loss_curves: not one key entry and line style per run: $(grep ^plot svg/loss_curves.txt)"
    awk -F'\t' '$1 == "text" && $2 == "middle" && $3 ~ /^ *[0-9]+$/ && $3 + 0 > 30 { bad = 1 } END { exit bad }' svg/loss_curves.txt ||
        die "loss_curves: an x tick past the last step, 30: $(grep middle svg/loss_curves.txt)"
    # norm by position: each depth divided by its mean, said on the figure, on a linear axis (no log decades)
    grep -q 'each depth divided by its own mean' svg/norm_position_my_run0000.txt ||
        die "norm_position: the axis does not say how the depths are scaled"
    awk -F'\t' '$1 == "text" && $2 == "end" && $3 ~ /^ *[0-9.]+$/ { v = $3 + 0; if (!n++ || v < lo) lo = v; if (v > hi) hi = v }
                END { exit !(n >= 3 && lo > 0 && hi / lo < 10) }' svg/norm_position_my_run0000.txt ||
        die "norm_position: the y ticks span a decade or more: $(grep end svg/norm_position_my_run0000.txt)"
    # past 24 runs a key entry per run would cover the figure: one per size, with its runs
    "$synth" --out many --runs 25 --ranks 1 --steps 2 --layers 1 --seq 4 --width 4 >/dev/null
    rm svg/*
    SVG_DIR=$PWD/svg IL_GNUPLOT=$PWD/gp "$agg" --out outm many >/dev/null 2>aggm.err || die "exit $? on 25 runs: $(cat aggm.err)"
    /usr/bin/python3 "$here/svg_text.py" svg/loss_curves.svg | grep -P '^plot\t' | cut -f2 >keys.txt
    size=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "n_params") c = i } NR == 2 { printf "%.3gM", $c / 1e6 }' outm/runs.csv)
    [ "$(cat keys.txt)" = "$(printf '%s (25 runs)\nvalidation (circles)' "$size")" ] ||
        die "loss_curves of 25 runs: the key is not one entry per size: $(cat keys.txt)"
    # one train line and one validation: one-point series; gnuplot's warnings go to its log, not to stderr
    "$synth" --out one --runs 1 --ranks 2 --steps 2 --layers 2 --seq 4 --width 8 >/dev/null
    grep -e '"step":1,' -e '"kind":"val","step":10' one/run0000/metrics.jsonl >m.jsonl && mv m.jsonl one/run0000/metrics.jsonl
    "$agg" --out out1 one >/dev/null 2>agg1.err || die "exit $? on a one-point run: $(cat agg1.err)"
    ! grep -v '^il-aggregate: ' agg1.err || die "gnuplot's messages leak to stderr: $(cat agg1.err)"
    grep -q '^Warning: empty' out1/figures/gnuplot.log || die "figures/gnuplot.log lacks gnuplot's warnings"
}

# figures, where gnuplot exists
if command -v gnuplot >/dev/null; then
    "$agg" --out out3 sweep >/dev/null 2>agg3.err || die "exit $? with gnuplot: $(cat agg3.err)"
    for f in norm_position_run0000 lens_depth_run0000 cos_depth_run0000 signals_run0000 loss_curves scaling; do
        head -c 4 "out3/figures/$f.png" | grep -q PNG || die "figure $f.png missing or not a PNG: $(cat agg3.err)"
    done
    figure_text
fi

# bad inputs: a corrupt, a truncated, a non-NetCDF and a wrong-schema trace, a run without traces, a
# malformed metrics line; the good run is still aggregated and the exit code is 3
"$synth" --out bad --runs 3 --ranks 2 --steps 5 --layers 2 --seq 4 --width 8 >/dev/null
t0=bad/run0000/trace/rank0001.seg0000.nc t1=bad/run0001/trace/rank0000.seg0000.nc
printf '\377%.0s' $(seq 512) | dd of="$t0" bs=1 seek=600 conv=notrunc status=none
truncate -s 20000 "$t1"
echo 'not netcdf' >bad/run0001/trace/rank0001.seg0000.nc
cp bad/run0002/trace/rank0000.seg0000.nc bad/run0002/trace/rank0002.seg0000.nc
ncatted -h -a trace_schema_version,global,o,l,7 bad/run0002/trace/rank0002.seg0000.nc
mkdir -p bad/notrace && cp bad/run0000/config.ini bad/notrace/ && sed -i 's/^name = .*/name = notrace/' bad/notrace/config.ini
echo '{"kind":"train","step":' >>bad/run0002/metrics.jsonl
# files that are not regular files: reading them could block forever
rm bad/run0000/metrics.jsonl && mkfifo bad/run0000/metrics.jsonl
rm bad/run0001/launches.jsonl && mkdir bad/run0001/launches.jsonl
(cd bad && find . -type f -exec md5sum {} + | sort) >before.md5
rc=0; IL_GNUPLOT= timeout 120 "$agg" --out outb bad >aggb.out 2>aggb.err || rc=$?
[ "$rc" -eq 3 ] || die "expected exit 3 with skipped inputs, got $rc: $(cat aggb.err)"
(cd bad && find . -type f -exec md5sum {} + | sort) >after.md5
diff before.md5 after.md5 >/dev/null || die "il-aggregate changed its inputs"
for want in "$t0,corrupt: NetCDF: HDF error" "$t1,truncated: 20000 of" "bad/run0001/trace/rank0001.seg0000.nc,not a NetCDF file" \
            "bad/run0002/trace/rank0002.seg0000.nc,trace schema version 7" "bad/notrace/trace,no trace directory" \
            "bad/run0002/metrics.jsonl,\"1 malformed line(s), the first at line" \
            "bad/run0000/metrics.jsonl: not a regular file" "bad/run0001/launches.jsonl: not a regular file"; do
    grep -qF "$want" outb/skipped.csv || die "skipped.csv lacks '$want': $(cat outb/skipped.csv)"
done
# run0000 keeps rank 0, run0002 ranks 0 and 1; run0001 has no usable trace but still its metrics row
[ "$(grep -c '^run000[02],' outb/norms.csv)" -eq 6 ] || die "norms.csv lacks the good runs: $(cat outb/norms.csv)"
grep -q '^run0001,bad/run0001,' outb/runs.csv || die "runs.csv lacks run0001"
grep -q '^notrace,bad/notrace,' outb/runs.csv || die "runs.csv lacks the run without traces"

# command-line errors: one line, exit 2
expect_fail il-aggregate "nothere: No such file or directory" "$agg" --out o nothere
mkdir empty
expect_fail il-aggregate "no run directory" "$agg" --out o empty
expect_fail il-aggregate "unknown option" "$agg" --bogus sweep
# MPI: the good, bad and varied sweeps on 2 ranks and on 3 (oversubscribing 2 cores) give byte-identical
# tables, the same summary.nc but for its creation time and id (the output directory), rank 0's messages in the same order, the same exit code
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$synth" --out vary --runs 5 --ranks 2 --steps 5 --vary >/dev/null
"$synth" --out vary/restart --runs 2 --ranks 2 --steps 6 --layers 2 --seq 4 --width 8 --restart >/dev/null
nc_text() { ncdump "$1/summary.nc" | grep -v -e ':history = ' -e ':date_created = ' -e ':id = '; }
rc1=0; IL_GNUPLOT= "$agg" --out p1 sweep bad vary >p1.out 2>p1.err || rc1=$?
[ "$rc1" -eq 3 ] || die "expected exit 3 from one process, got $rc1: $(cat p1.err)"
nc_text p1 >p1.cdl
for n in 2 3; do
    rc=0; IL_GNUPLOT= mpirun -n $n --oversubscribe "$agg" --out p$n sweep bad vary >p$n.out 2>p$n.err || rc=$?
    [ "$rc" -eq "$rc1" ] || die "$n ranks: exit $rc, one process $rc1: $(cat p$n.err)"
    for f in p1/*.csv p1/*.md; do cmp -s "$f" "p$n/${f#p1/}" || die "$n ranks: ${f#p1/} differs from one process"; done
    nc_text p$n | cmp -s - p1.cdl || die "$n ranks: summary.nc differs from one process"
    # mpirun appends its own report of a non-zero exit: compare the program's lines
    grep '^il-aggregate: ' p$n.err | diff - <(grep '^il-aggregate: ' p1.err) >diff.txt ||
        die "$n ranks: messages differ from one process: $(head -10 diff.txt)"
done
# a bad input under mpirun: exit 2 and one message, from rank 0
rc=0; mpirun -n 2 --oversubscribe "$agg" --out o nothere >mpi.out 2>mpi.err || rc=$?
[ "$rc" -eq 2 ] || die "2 ranks, a missing PATH: exit $rc: $(cat mpi.err)"
[ "$(grep -c '^il-aggregate: ' mpi.err)" -eq 1 ] && grep -q '^il-aggregate: nothere: No such file' mpi.err ||
    die "2 ranks, a missing PATH: not one message: $(cat mpi.err)"
echo ok
