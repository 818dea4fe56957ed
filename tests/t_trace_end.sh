#!/usr/bin/env bash
# The end of a run (docs/trace-schema.md, "Files"): a run killed between its final checkpoint and the end of
# its consolidation, or while consolidating, loses nothing. Its real last record is aggregated (no launch
# replaced it), --resume finds the run finished, consolidates it and changes nothing else (no new segment,
# no launch), and il-aggregate --consolidate removes the dead writer's temporary file. The segment rule
# uses what the records say about themselves: an empty later segment, or a start_step attribute edited to
# 0 or 5, drops no record that no later launch traced again. A run resumed on fewer ranks is consolidated
# into one file per rank and world size, which aggregate to the same tables as its segments. Kill points:
# IL_TEST_KILL (src/core/err.h).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_trace_end

tiny_corpus
{ tiny_ini; printf '[train]\nglobal_batch = 4\nmicro_batch = 2\nmax_steps = 20\n[optim]\nwarmup_steps = 2\n'
  printf '[eval]\ninterval = 10\n[run]\nckpt_interval = 10\n[trace]\ninterval = 5\nlog_spaced = 0\nprobe_groups = 4\n'; } >t.ini
steps_of() { ncdump -v step "$1" | sed -n '/^data:/,$p' | tr -d '\n ' | sed -n 's/.*step=\([^;]*\);.*/\1/p'; }
# train NAME RANKS KILL-POINT [--resume]: a launch that must die at the kill point
killed() {
    local rc=0
    IL_TEST_KILL=$3 mpirun -n "$2" --oversubscribe "$bin/il-train" --config t.ini --set run.name="$1" "${@:4}" \
        >>"$1.out" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || die "$1: the launch was not killed at $3: $(tail -3 "$1.out")"
}
# the steps of an aggregate's summary.nc that hold a record (its step axis is the run's trace schedule)
agg_steps() {
    paste -d' ' <(steps_of "$1" | tr ',' '\n') \
          <(ncdump -v time "$1" | sed -n '/^data:/,$p' | tr -d '\n ' | sed -n 's/.*time=\([^;]*\);.*/\1/p' | tr ',' '\n') |
        awk '$2 != "_" { printf "%s%s", n++ ? "," : "", $1 }'
}
agg() { "$bin/il-aggregate" "$@" >agg.out 2>&1 || die "il-aggregate $*: $(tail -3 agg.out)"; }
no_replay_warning() { ! grep -q "later launch" agg.out || die "$1: a record was dropped as traced again: $(grep 'later launch' agg.out)"; }
tree() { (cd "$1" && find . -type f ! -name log.txt ! -name lock | sort | xargs md5sum); }

# killed between the final checkpoint and the consolidation (2 ranks): every record is synced
killed f 2 final-checkpoint
for r in 0 1; do [ "$(steps_of runs/f/trace/rank000$r.seg0000.nc)" = 0,5,10,15,20 ] || die "f: rank $r's segment lacks records"; done
cp -a runs/f before
agg --out agg1 before
no_replay_warning "the killed run"
[ "$(agg_steps agg1/summary.nc)" = 0,5,10,15,20 ] || die "the killed run aggregates steps $(agg_steps agg1/summary.nc)"
# --resume: finished, consolidated, nothing else changed
mpirun -n 2 --oversubscribe "$bin/il-train" --config t.ini --set run.name=f --resume >f2.out 2>&1 ||
    die "resuming the finished run: $(tail -3 f2.out)"
grep -q "finished already" runs/f/log.txt || die "the resume does not say that the run is finished: $(tail -3 runs/f/log.txt)"
grep -q "trace: the segments of 2 ranks consolidated" runs/f/log.txt || die "not consolidated: $(tail -3 runs/f/log.txt)"
[ "$(ls runs/f/trace)" = "$(printf 'rank0000.nc\nrank0001.nc')" ] || die "trace files after the resume: $(ls runs/f/trace)"
for r in 0 1; do [ "$(steps_of runs/f/trace/rank000$r.nc)" = 0,5,10,15,20 ] || die "f: rank $r consolidated without all its steps"; done
cmp -s before/launches.jsonl runs/f/launches.jsonl || die "the resume of a finished run was recorded as a launch"
diff <(cd before && find ckpt metrics.jsonl config.ini | sort | xargs md5sum 2>/dev/null) \
     <(cd runs/f && find ckpt metrics.jsonl config.ini | sort | xargs md5sum 2>/dev/null) >/dev/null ||
    die "the resume of a finished run changed its checkpoints, metrics or config"
# resuming the consolidated run: says so, changes nothing
tree runs/f >tree1.txt
mpirun -n 2 --oversubscribe "$bin/il-train" --config t.ini --set run.name=f --resume >f3.out 2>&1 ||
    die "resuming the consolidated run: $(tail -3 f3.out)"
[ "$(grep -c 'finished already' runs/f/log.txt)" = 2 ] || die "the second resume does not say the run is finished"
grep -q "not consolidated: consolidated already" runs/f/log.txt || die "$(tail -2 runs/f/log.txt)"
tree runs/f | diff tree1.txt - >/dev/null || die "resuming a finished run changed it: $(tree runs/f | diff tree1.txt -)"

# killed while consolidating: il-aggregate --consolidate finishes the work and removes the temporary file
killed c 1 consolidating
ls runs/c/trace | grep -q '^rank0000\.nc\.tmp\.[0-9]*$' || die "no temporary file to clean: $(ls runs/c/trace)"
cp -a runs/c runs/c2
"$bin/il-train" --config t.ini --set run.name=c2 --resume >c2.out 2>&1 || die "resuming c2: $(tail -3 c2.out)"
grep -q "removed 1 temporary file" runs/c2/log.txt || die "il-train --resume: no word of the debris: $(tail -3 runs/c2/log.txt)"
[ "$(ls runs/c2/trace)" = rank0000.nc ] || die "after il-train --resume: $(ls runs/c2/trace)"
agg --consolidate --out agg2 runs/c
grep -q "removed 1 temporary file left by a writer that died" agg.out || die "no word of the debris: $(cat agg.out)"
[ "$(ls runs/c/trace)" = rank0000.nc ] || die "after il-aggregate --consolidate: $(ls runs/c/trace)"
[ "$(steps_of runs/c/trace/rank0000.nc)" = 0,5,10,15,20 ] || die "c: consolidated steps $(steps_of runs/c/trace/rank0000.nc)"

# segment 0 (steps 0-10), an empty segment 1 (killed as it began), segment 2 (steps 10-20, killed before
# consolidating): only segment 0's step 10 was traced again
killed e 1 checkpoint
killed e 1 trace-opened --resume
[ "$(steps_of runs/e/trace/rank0000.seg0001.nc)" = "" ] || die "segment 1 is not empty"
agg --out agg3 runs/e
no_replay_warning "an empty later segment"
[ "$(agg_steps agg3/summary.nc)" = 0,5,10 ] || die "with an empty later segment: steps $(agg_steps agg3/summary.nc)"
killed e 1 final-checkpoint --resume
for start in 0 5; do
    rm -rf edit && cp -a runs/e edit
    ncatted -h -a start_step,global,o,ll,$start edit/trace/rank0000.seg0002.nc
    agg --out "agg_$start" edit
    grep -q "1 trace steps of segment 0 (steps 10 to 10) were traced again" agg.out ||
        die "start_step $start: $(grep warning agg.out)"
    [ "$(grep -c 'later launch' agg.out)" = 1 ] || die "start_step $start: $(grep warning agg.out)"
    [ "$(agg_steps "agg_$start/summary.nc")" = 0,5,10,15,20 ] || die "start_step $start: $(agg_steps "agg_$start/summary.nc")"
    agg --consolidate --out "aggc_$start" edit
    [ "$(steps_of edit/trace/rank0000.nc)" = 0,5,10,15,20 ] ||
        die "start_step $start: consolidated steps $(steps_of edit/trace/rank0000.nc)"
done
# 2 ranks, then resumed on 1 (killed before consolidating): il-aggregate takes the later launch's record of
# step 10 for every group, the earlier launch's records of the steps before it
killed m 2 checkpoint
killed m 1 final-checkpoint --resume
agg --out aggm runs/m
grep -q "1 trace steps of segment 0 (steps 10 to 10) were traced again" agg.out || die "2 then 1 rank: $(grep warning agg.out)"
[ "$(agg_steps aggm/summary.nc)" = 0,5,10,15,20 ] || die "2 then 1 rank: steps $(agg_steps aggm/summary.nc)"
# --resume consolidates it: one file per rank and launch layout, each of the records the rule kept, the
# last launch's as rankRRRR.nc, the 2-rank launch's as rankRRRR.of0002.nc; the tables are those of the segments
mpirun -n 1 "$bin/il-train" --config t.ini --set run.name=m --resume >m2.out 2>&1 || die "resuming on 1 rank: $(tail -3 m2.out)"
grep -q "trace: the segments of 2 ranks consolidated" runs/m/log.txt || die "the 2-then-1-rank run: $(tail -1 runs/m/log.txt)"
[ "$(ls runs/m/trace | tr '\n' ' ')" = "rank0000.nc rank0000.of0002.nc rank0001.of0002.nc " ] ||
    die "2 then 1 rank: trace files after consolidating: $(ls runs/m/trace)"
for f in rank0000.nc:10,15,20:1 rank0000.of0002.nc:0,5:2 rank0001.of0002.nc:0,5:2; do
    IFS=: read -r file steps world <<<"$f"
    [ "$(steps_of "runs/m/trace/$file")" = "$steps" ] || die "$file: steps $(steps_of "runs/m/trace/$file"), not $steps"
    ncdump -h "runs/m/trace/$file" | grep ":world_size = $world ;" >/dev/null || die "$file: not of world size $world"
done
agg --out aggm2 runs/m
no_replay_warning "the consolidated 2-then-1-rank run"
grep -q " 0 inputs skipped, 0 warnings" agg.out || die "2 then 1 rank, consolidated: $(grep -v '^Warning' agg.out)"
[ "$(agg_steps aggm2/summary.nc)" = 0,5,10,15,20 ] || die "2 then 1 rank, consolidated: steps $(agg_steps aggm2/summary.nc)"
# the same records summed in the same order (rank by rank, step by step): the same tables, byte for byte
for t in norms.csv inner.csv claims.csv; do
    cmp -s "aggm/$t" "aggm2/$t" || die "2 then 1 rank: $t differs once consolidated: $(diff "aggm/$t" "aggm2/$t" | head -4)"
done
echo "t_trace_end: ok"
