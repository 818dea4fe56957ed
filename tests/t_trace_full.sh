#!/usr/bin/env bash
# A full disk for the traces (docs/trace-schema.md, "Files"): a 2-rank run tracing every step into a 1 MB
# tmpfs stops with exit 1 and one line naming the trace file and the system's reason; no rank crashes, and
# every rank's segment stays readable with its records up to where the disk filled (at least those synced
# at the last checkpoint), which il-aggregate reads. A launch that finds the disk full already (a resume
# after a filler file took the rest) stops the same way, before its first record: exit 1, one line, its
# checkpoints and earlier segment as they were, no empty segment left behind. Mounting the tmpfs needs
# root: the test says that it is skipped where it cannot mount.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_trace_full

tiny_corpus
mkdir -p runs/d/trace
if ! mount -t tmpfs -o size=1m tmpfs runs/d/trace 2>mount.err; then
    echo "t_trace_full: skipped: cannot mount a 1 MB tmpfs here ($(head -1 mount.err)); it needs root"
    exit 0
fi
trap 'umount "$tmp/runs/d/trace"; umount "$tmp/runs/o/trace" 2>/dev/null; rm -rf "$tmp"' EXIT
{ tiny_ini; printf '[train]\nglobal_batch = 4\nmicro_batch = 2\nmax_steps = 400\n[optim]\nwarmup_steps = 2\n'
  printf '[run]\nname = d\nckpt_interval = 20\n[trace]\ninterval = 1\nlog_spaced = 0\nprobe_groups = 4\n'; } >t.ini
rc=0
mpirun -n 2 --oversubscribe "$bin/il-train" --config t.ini >run.out 2>run.err || rc=$?
[ "$rc" -eq 1 ] || die "expected exit 1, got $rc: $(grep -v '^--' run.err | head -5)"
grep -q "^il-train: runs/d/trace/rank000[01]\.seg0000\.nc: cannot write the trace: No space left on device$" run.err ||
    die "the error does not name the trace file and the reason: $(cat run.err)"
[ "$(grep -c '^il-train: ' run.err)" = 1 ] || die "more than one line of error: $(grep '^il-train: ' run.err)"
! grep -qi "signal\|segmentation\|fatal" run.err || die "a rank crashed: $(grep -i 'signal\|segmentation\|fatal' run.err | head -3)"
last_ckpt=$(ls runs/d/ckpt | grep -v tmp | sort | tail -1)
last_ckpt=$((10#${last_ckpt#step_}))
[ "$last_ckpt" -ge 20 ] && [ "$last_ckpt" -lt 400 ] || die "the disk filled at no useful point (last checkpoint $last_ckpt)"
for r in 0 1; do
    f=runs/d/trace/rank000$r.seg0000.nc
    steps=$(ncdump -v step "$f" 2>&1 | sed -n '/^data:/,$p' | tr -d '\n ' | sed -n 's/.*step=\([^;]*\);.*/\1/p') ||
        die "$f does not open"
    n=$(echo "$steps" | tr ',' '\n' | grep -c '^[0-9]' || true)
    [ "$n" -gt "$last_ckpt" ] || die "$f: $n records readable, fewer than the $((last_ckpt + 1)) synced at step $last_ckpt ($steps)"
    [ "$steps" = "$(seq -s, 0 $((n - 1)))" ] || die "$f: steps $steps"
done
rc=0
"$bin/il-aggregate" --out agg runs >agg.out 2>&1 || rc=$?
[ "$rc" -eq 0 ] || die "il-aggregate on the run: exit $rc: $(cat agg/skipped.csv 2>/dev/null || tail -3 agg.out)"

# full before the launch: the first launch stops at its checkpoint of step 10, fillers take the disk, and the
# resumed launch stops as it creates its segment
mkdir -p runs/o/trace
mount -t tmpfs -o size=1m tmpfs runs/o/trace
sed -e 's/^name = d$/name = o/' -e 's/^max_steps = 400$/max_steps = 40/' -e 's/^ckpt_interval = 20$/ckpt_interval = 10/' \
    t.ini >o.ini
rc=0
IL_TEST_KILL=checkpoint mpirun -n 2 --oversubscribe "$bin/il-train" --config o.ini >o1.out 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ -d runs/o/ckpt/step_00000010 ] || die "the first launch did not stop at its checkpoint: $(tail -3 o1.out)"
ckpt_sums() { (cd runs/o && find ckpt -type f | sort | xargs md5sum); }
ckpt_sums >ckpt.before
cp runs/o/trace/rank0000.seg0000.nc seg0.before
# resume WHY: a launch that must stop at the creation of its segment with one line saying WHY
resume() {
    local rc=0
    mpirun -n 2 --oversubscribe "$bin/il-train" --config o.ini --resume >o2.out 2>o2.err || rc=$?
    [ "$rc" -eq 1 ] || die "full before the launch: expected exit 1, got $rc: $(grep -v '^--' o2.err | head -5)"
    grep -q "^il-train: runs/o/trace/rank000[01]\.seg0001\.nc: $1: No space left on device$" o2.err ||
        die "full before the launch: the error does not name the trace file, $1 and the reason: $(cat o2.err)"
    [ "$(grep -c '^il-train: ' o2.err)" = 1 ] || die "full before the launch: more than one line of error: $(cat o2.err)"
    ! grep -qi "signal\|segmentation\|fatal\|MPI_ABORT" o2.err || die "full before the launch: a rank crashed: $(head -5 o2.err)"
    ckpt_sums | diff ckpt.before - >/dev/null || die "full before the launch: the checkpoints changed"
    cmp -s seg0.before runs/o/trace/rank0000.seg0000.nc || die "full before the launch: segment 0 changed"
    ! ls runs/o/trace | grep -q seg0001 || die "full before the launch: a segment was left behind: $(ls runs/o/trace)"
}
# 16 KB left: the file is created, but not the room for its first record; then none left at all
avail=$(df -k --output=avail runs/o/trace | tail -1)
dd if=/dev/zero of=runs/o/trace/filler bs=1k count=$((avail - 16)) >/dev/null 2>&1 || die "cannot fill the disk"
resume "cannot write the trace"
dd if=/dev/zero of=runs/o/trace/filler2 bs=4k >/dev/null 2>&1 || true
resume "cannot create the trace file"
echo "t_trace_full: ok"
