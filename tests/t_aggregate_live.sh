#!/usr/bin/env bash
# Aggregating a run while it trains: il-train (2 ranks, traced) runs in the background, each rank holding
# its trace segment open for writing. il-aggregate reads both live segments up to their last sync (HDF5's
# file locking would otherwise refuse them as "HDF error"), names the run live in a warning, skips nothing
# and exits 0; ncdump reads a live segment as docs/aggregate.md says (HDF5_USE_FILE_LOCKING=FALSE).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_aggregate_live

tiny_corpus
{ tiny_ini; printf '[train]\nglobal_batch = 4\nmicro_batch = 2\nmax_steps = 1000000\n[optim]\nwarmup_steps = 5\n'
  printf '[trace]\ninterval = 5\nlog_spaced = 0\nsync_every = 10\nprobe_windows = 8\nprobe_groups = 2\n'
  printf '[run]\nname = live\nckpt_interval = 0\n'; } >run.ini
mpirun -n 2 --oversubscribe "$bin/il-train" --config run.ini >train.out 2>&1 &
trainer=$!
trap 'kill $trainer 2>/dev/null || true; wait $trainer 2>/dev/null || true; rm -rf "$tmp"' EXIT
run=runs/live
# wait for some 20 synced trace records (a sync every 10 records, 50 steps)
for _ in $(seq 1 300); do
    steps=$(grep -c '"kind":"train"' "$run/metrics.jsonl" 2>/dev/null || true)
    [ "${steps:-0}" -ge 120 ] && break
    kill -0 $trainer 2>/dev/null || die "il-train ended early: $(tail -3 train.out)"
    sleep 0.1
done
[ "${steps:-0}" -ge 120 ] || die "il-train wrote no 120 steps in 30 s"
# A reader that meets a writer in the middle of a sync is told to try again (aggregate.md): so do we, a
# few times; a reader that HDF5's locking refuses fails every time.
rc=0
for _ in 1 2 3; do
    rc=0
    "$bin/il-aggregate" --out out runs >agg.out 2>&1 || rc=$?
    [ $rc -eq 3 ] && grep -q "skipped .*: live: .* aggregate again later" agg.out || break
    sleep 0.3
done
kill -0 $trainer 2>/dev/null || die "il-train is no longer running: the test aggregated no live run"
[ $rc -eq 0 ] || die "il-aggregate exited $rc on a live run: $(cat agg.out)"
grep -q "warning: $run: live: still training (il-train, host .*, pid [0-9]* holds its lock)" agg.out ||
    die "the run is not named live: $(cat agg.out)"
# ranks synced to different steps: a step only one rank holds is no NaN in the other's groups
! grep -q "is NaN throughout" agg.out || die "groups of a rank that has not synced a step named NaN: $(cat agg.out)"
[ "$(grep -c '^live,' out/runs.csv)" -eq 1 ] || die "runs.csv lacks the live run: $(cat out/runs.csv)"
[ "$(wc -l <out/skipped.csv)" -eq 1 ] || die "inputs skipped: $(cat out/skipped.csv)"
records=$(grep -c '^live,' out/inner.csv || true)
[ "$records" -ge 1 ] || die "inner.csv has no row of the live run"
# a user's own reader, as documented
read=0
for _ in 1 2 3; do
    HDF5_USE_FILE_LOCKING=FALSE ncdump -h "$run/trace/rank0001.seg0000.nc" >/dev/null 2>&1 && read=1 && break
    sleep 0.3
done
[ $read -eq 1 ] || die "ncdump cannot read a live segment with HDF5_USE_FILE_LOCKING=FALSE"
kill -TERM $trainer
wait $trainer 2>/dev/null || true
echo "$name: ok"
