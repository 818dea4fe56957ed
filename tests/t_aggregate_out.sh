#!/usr/bin/env bash
# What il-aggregate writes, when more than one aggregation meets one --out or one dies or the disk fills:
#   - the outputs are replaced as a whole: nothing of an earlier aggregation (a figure of a run that is
#     gone) survives a later one, and a --out holding the user's own files is refused, not emptied;
#   - one writer per output directory: a second il-aggregate names the holder and exits 2, and readers see
#     the old outputs until the new ones are complete;
#   - a killed aggregation leaves the old outputs whole, and the next one removes what it left;
#   - a full disk, over old outputs or into a new directory, on 1 rank and on 2: one line naming the file
#     and the system's reason, exit 1 on every rank without MPI_ABORT, the old outputs untouched, no
#     temporary file left.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_aggregate_out
agg=$bin/il-aggregate
export IL_GNUPLOT= # figures drawn by the fake gnuplot below, where a test needs one
"$bin/il-synth-traces" --out a --runs 2 --ranks 2 --steps 4 --layers 2 --seq 4 --width 8 >/dev/null
"$bin/il-synth-traces" --out b --runs 3 --ranks 2 --steps 5 --layers 2 --seq 4 --width 8 >/dev/null
sums() { (cd "$1" && find . -type f -exec md5sum {} + | sort); }
debris() { find . -name '*.tmp.*' -o -name '.*.old.*' -o -name '.plot.*.dat' | grep -v -e '^\./[ab]/' -e '^\./mine/'; }

# replaced as a whole: sweep b, one of its per-run figures, then sweep a into the same directory
"$agg" --out out b >/dev/null 2>&1 || die "aggregating b exited $?"
mkdir -p out/figures && echo png >out/figures/signals_run0002.png
"$agg" --out out a >agg.out 2>agg.err || die "aggregating a exited $?: $(cat agg.err)"
[ ! -e out/figures/signals_run0002.png ] || die "a figure of sweep b survived the aggregation of sweep a"
[ "$(grep -c '^run000' out/runs.csv)" -eq 2 ] || die "runs.csv is not sweep a's: $(cat out/runs.csv)"
# a directory of the user's own is refused and kept
mkdir mine && echo notes >mine/notes.txt && echo draft >mine/notes.txt.tmp.5
expect_fail il-aggregate "mine: holds notes.txt" "$agg" --out mine a
[ "$(cat mine/notes.txt)" = notes ] && [ "$(cat mine/notes.txt.tmp.5)" = draft ] || die "the user's files were touched"
expect_fail il-aggregate "name a directory of its own" "$agg" --out . a

# a fake gnuplot that waits, on its first call, until the test lets it go (or ends): an aggregation held in
# its figures
trap 'rm -rf "$tmp"; [ -z "${pid:-}" ] || kill "$pid" 2>/dev/null || true' EXIT
cat >slowplot <<'SH'
#!/bin/sh
if [ ! -e started ]; then touch started; while [ ! -e go ] && [ -e started ]; do sleep 0.1; done; fi
exit 1
SH
chmod +x slowplot
held() { # held OUT SWEEP: starts an aggregation into OUT that waits in its figures; sets pid
    rm -f started go
    IL_GNUPLOT=$tmp/slowplot "$agg" --out "$1" "$2" >held.out 2>held.err &
    pid=$!
    for _ in $(seq 300); do [ -e started ] && return 0; sleep 0.1; done
    die "the held aggregation never reached its figures: $(cat held.err)"
}

# one writer: b while a is being written into out, which still holds a's outputs from above
sums out >old.md5
held out b
rc=0; "$agg" --out out a >second.out 2>second.err || rc=$?
[ "$rc" -eq 2 ] || die "a second aggregation into a held directory: exit $rc, expected 2: $(cat second.err)"
[ "$(wc -l <second.err)" -eq 1 ] && grep -q "^il-aggregate: out: in use by another il-aggregate (host .*, pid $pid); one writer" second.err ||
    die "the second aggregation does not name the holder: $(cat second.err)"
sums out | diff -q - old.md5 >/dev/null || die "readers saw a mix: out changed before the aggregation was complete"
touch go
wait "$pid" || die "the held aggregation exited $?: $(cat held.err)"
[ "$(grep -c '^run000' out/runs.csv)" -eq 3 ] || die "runs.csv is not sweep b's after the held aggregation"

# killed: the old outputs stay whole; the next aggregation removes what the dead one and older ones left
sums out >old.md5
held out a
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
touch go # lets the fake gnuplot it had started end
sums out | diff -q - old.md5 >/dev/null || die "a killed aggregation changed the outputs"
[ -n "$(debris)" ] || die "the killed aggregation left nothing to clean: the test kills too late"
mkdir -p out/figures && echo x >out/runs.csv.tmp.999999 && echo x >out/figures/.plot.999999.dat
"$agg" --out out a >agg.out 2>agg.err || die "aggregating after a kill exited $?: $(cat agg.err)"
grep -q "^il-aggregate: removed [0-9]* temporary outputs left by writers that died" agg.out ||
    die "no word of the debris removed: $(cat agg.out)"
[ -z "$(debris)" ] || die "debris left after the next aggregation: $(debris)"
[ "$(grep -c '^run000' out/runs.csv)" -eq 2 ] || die "runs.csv is not sweep a's after the kill"
# killed between moving the old outputs aside and moving the new ones in: put back, then replaced
mv out .out.old.999999
"$agg" --out out b >agg.out 2>agg.err || die "aggregating after a kill between renames exited $?: $(cat agg.err)"
grep -q "put back the outputs" agg.out || die "the old outputs were not put back: $(cat agg.out)"
[ -z "$(debris)" ] && [ "$(grep -c '^run000' out/runs.csv)" -eq 3 ] || die "after a kill between renames: $(debris)"

# a full disk: a 1 MB file system of the test's own, in a mount namespace of its own
if ! unshare -m true 2>/dev/null; then
    echo "$name: full-disk cases skipped: no private mount namespace here (unshare -m needs root)"
    echo "$name: ok"
    exit 0
fi
mkdir small
# full LAUNCHER KB_FREE [OLD]: aggregates a into small/agg with KB_FREE kB left, over sweep b's outputs when
# OLD is given; results in full.*, the old outputs' sums in full.old and after in full.new
full() {
    unshare -m sh -c "mount -t tmpfs -o size=1m tmpfs small && cd '$tmp' &&
        if [ -n '${3:-}' ] && ! '$agg' --out small/agg b >/dev/null 2>&1; then echo old outputs not written; exit 1; fi
        (cd small && find . -type f ! -name '*.lock' -exec md5sum {} + | sort) >full.old
        dd if=/dev/zero of=small/fill bs=1k count=\$((\$(df -k --output=avail small | tail -1) - $2)) status=none
        rc=0; $1 '$agg' --out small/agg a >full.out 2>full.err || rc=\$?; echo \$rc >full.rc
        rm small/fill; (cd small && find . -type f ! -name '*.lock' -exec md5sum {} + | sort) >full.new
        find small -name '*.tmp*' -o -name '.*.old.*' >full.left"
    local what="full disk ($1 $2 kB free${3:+, over old outputs})"
    [ "$(cat full.rc)" -eq 1 ] || die "$what: exit $(cat full.rc), expected 1: $(cat full.err)"
    grep -q "MPI_ABORT" full.out full.err && die "$what: aborted instead of stopping cleanly: $(cat full.err)"
    # the synthetic runs have no unigram counts: their warnings are not errors
    [ "$(grep -v '^il-aggregate: warning: ' full.err | grep -c '^il-aggregate: ')" -eq 1 ] ||
        die "$what: not one line of error: $(cat full.err)"
    grep -q "^il-aggregate: small/agg/[a-z_.]*: write failed: No space left on device$" full.err ||
        die "$what: the error does not name the file and the reason: $(cat full.err)"
    diff -q full.old full.new >/dev/null || die "$what: the old outputs changed"
    [ ! -s full.left ] || die "$what: temporary files left: $(cat full.left)"
}
full "" 40 old
full "" 8
full "mpirun -n 2 --oversubscribe" 40 old
full "mpirun -n 2 --oversubscribe" 8
echo "$name: ok"
