#!/usr/bin/env bash
# il-aggregate's run caches (<run>/aggregate.cache, docs/aggregate.md "Run caches"): a re-aggregation reads
# only the new and changed runs and writes byte-identical tables and summary.nc data to a cold run (--no-cache),
# on one process and on 2 MPI ranks; a changed trace file, and a config.ini changed to the same size and
# modification time, invalidate their run's cache; a truncated cache, one with a bad checksum, one that is
# no cache and one of another version are rebuilt; unfinished runs (segments, a held lock) are not cached;
# a run directory that cannot be written still aggregates; the netCDF library starts once, not per file;
# the processes il-aggregate forks keep the memory they free.
# summary.nc reuse (docs/aggregate.md "summary.nc reuse"): re-aggregating into the same output directory
# copies the curves of the runs taken from their caches out of the last summary.nc (rows matched by run_key,
# also when they move), and still equals a cold summary.nc; a run read afresh (--no-cache, a changed or new
# run), a changed key, another format, a changed plan and a damaged old file are compressed anew instead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_aggregate_cache
agg=$bin/il-aggregate
synth() { "$bin/il-synth-traces" --out sw --ranks 2 --steps 5 --layers 2 --seq 4 --width 8 "$@" >/dev/null; }
export IL_GNUPLOT=
# the creation time, the output directory (id) and the user (creator_name: the read-only case runs as another)
nc_text() { ncdump "$1/summary.nc" | grep -v -e ':history = ' -e ':date_created = ' -e ':id = ' -e ':creator_name = '; }
# agg OUT [OPTIONS] PATH...: il-aggregate --timings into OUT, its stdout in OUT.out and stderr in OUT.err;
# exit 0 expected, or $want
agg() {
    local out=$1 rc=0; shift
    "$agg" --timings --out "$out" "$@" >"$out.out" 2>"$out.err" || rc=$?
    [ "$rc" -eq "${want:-0}" ] || die "$out: exit $rc: $(cat "$out.err")"
}
# counts OUT READ HIT WRITTEN: runs read from their inputs, taken from their caches, caches written
counts() {
    grep -q "runs: $2 read, $3 from their caches, $4 caches written" "$1.out" ||
        die "$1: expected $2 read, $3 from caches, $4 written: $(grep timings "$1.out")"
}
# same OUT COLD: every table of OUT and summary.nc's data are byte-identical to COLD's
same() {
    [ "$(cd "$2" && ls)" = "$(cd "$1" && ls)" ] || die "$1 and $2 hold different files"
    for f in "$2"/*.csv "$2"/*.md; do cmp -s "$f" "$1/${f#"$2"/}" || die "$1/${f#"$2"/} differs from $f"; done
    cmp -s <(nc_text "$1") <(nc_text "$2") || die "$1/summary.nc differs from $2/summary.nc"
}
ncaches() { find sw -name aggregate.cache | wc -l; }
# copied OUT N M: summary.nc took N runs' curves from the last summary.nc in OUT and compressed M
copied() {
    grep -q "summary.nc: $2 runs' curves copied, $3 compressed" "$1.out" ||
        die "$1: expected $2 runs' curves copied, $3 compressed: $(grep 'summary.nc:' "$1.out")"
}
# again OLD NEW: NEW starts as a copy of the output directory OLD, so that NEW's aggregation has a last
# summary.nc to copy from
again() { cp -a "$1" "$2"; }

# unfinished runs (trace segments) are read and not cached; --no-cache reads every run and writes none
synth --runs 3
agg seg sw && counts seg 3 0 0
agg cold --consolidate --no-cache sw && counts cold 3 0 0
[ "$(ncaches)" -eq 0 ] || die "caches written for segments or under --no-cache"
agg first sw && counts first 3 0 3 && copied first 0 3
same first cold
# 2 more runs finish: only they are read, on one process and on 2 ranks; the other 3 runs' curves are copied
synth --runs 2 --first 3
again first warm
agg warm --consolidate sw && counts warm 2 3 2 && copied warm 3 2
agg cold2 --no-cache sw
same warm cold2
# summary.nc is compressed anew by every aggregation, a warm one included: at zlib's fastest level
levels=$(ncdump -hs warm/summary.nc | sed -n 's/.*:_DeflateLevel = \([0-9]*\) ;/\1/p' | sort -u | tr '\n' ' ')
[ "$levels" = "1 " ] || die "summary.nc's deflate levels: $levels"
again warm warm2
mpirun -n 2 --oversubscribe "$agg" --timings --out warm2 sw >warm2.out 2>warm2.err || die "2 ranks: $(cat warm2.err)"
counts warm2 0 5 0 && copied warm2 5 0
same warm2 cold2

# a trace file rewritten (its norms doubled): that run is read again, and the tables follow
/usr/bin/python3 -c '
import netCDF4, sys
with netCDF4.Dataset(sys.argv[1], "r+") as d: d["norm"][:] = 2 * d["norm"][:]' sw/run0001/trace/rank0000.nc
again warm2 changed
agg changed sw && counts changed 1 4 1 && copied changed 4 1
agg cold3 --no-cache sw
same changed cold3
cmp -s changed/norms.csv cold2/norms.csv && die "doubling run0001's norms did not change norms.csv"

# config.ini changed to another name of the same length, its size and time put back: the hash sees it
cp -p sw/run0002/config.ini config.keep
sed -i 's/^name = run0002$/name = run0009/' sw/run0002/config.ini
touch -r config.keep sw/run0002/config.ini
cmp -s config.keep sw/run0002/config.ini && die "config.ini unchanged"
again changed renamed
want=3 agg renamed sw && counts renamed 1 4 0 && copied renamed 4 0
want=3 agg cold4 --no-cache sw
same renamed cold4
cp -p config.keep sw/run0002/config.ini

# damaged caches are rebuilt (here by 2 ranks, each its own runs'), saying so in one line each; another
# version's silently; one process then takes every run from the caches the 2 ranks wrote
truncate -s -10 sw/run0000/aggregate.cache
cut=$(stat -c %s sw/run0000/aggregate.cache)
printf '\001' | dd of=sw/run0003/aggregate.cache bs=1 seek=$(($(stat -c %s sw/run0003/aggregate.cache) - 1)) conv=notrunc status=none
echo 'not a cache' >sw/run0004/aggregate.cache
printf '\143' | dd of=sw/run0001/aggregate.cache bs=1 seek=16 conv=notrunc status=none
again changed rebuilt
mpirun -n 2 --oversubscribe "$agg" --timings --out rebuilt sw >rebuilt.out 2>rebuilt.err || die "2 ranks: $(cat rebuilt.err)"
counts rebuilt 4 1 4 && copied rebuilt 1 4
same rebuilt cold3
for note in "sw/run0000/aggregate.cache: $cut bytes where its header says" \
            "sw/run0003/aggregate.cache: bad checksum; rebuilt" "sw/run0004/aggregate.cache: not a run cache; rebuilt"; do
    grep -qF "il-aggregate: note: $note" rebuilt.err || die "no note '$note': $(cat rebuilt.err)"
done
[ "$(grep -c 'note:' rebuilt.err)" -eq 3 ] || die "expected 3 notes: $(cat rebuilt.err)"
again rebuilt again
agg again sw && counts again 0 5 0 && copied again 5 0
same again cold3

# runs read afresh are compressed, though their keys match: --no-cache into the same directory
again again nocache
agg nocache --no-cache sw && counts nocache 5 0 0 && copied nocache 0 5
# rows found by key when they move: run0000 gone, the others one row up
mv sw/run0000 run0000.away
again again shifted
agg shifted sw && counts shifted 0 4 0 && copied shifted 4 0
agg shifted_cold --no-cache sw
same shifted shifted_cold
mv run0000.away sw/run0000
# a changed key (run0001's), another format, another step axis of the same length: that run, or every run,
# compressed anew
again again badkey && again again oldformat && again again steps
/usr/bin/python3 -c '
import netCDF4
with netCDF4.Dataset("badkey/summary.nc", "r+") as d: d["run_key"][1] = 12345
with netCDF4.Dataset("oldformat/summary.nc", "r+") as d: d.summary_format = 0
with netCDF4.Dataset("steps/summary.nc", "r+") as d: d["step"][-1] = d["step"][-1] + 1'
agg badkey sw && copied badkey 4 1
same badkey cold3
for out in oldformat steps; do
    agg $out sw && copied $out 0 5
    same $out cold3
done
# a damaged last summary.nc (cut short; its signature flipped) is not copied from, and fails nothing
again again cut && truncate -s $(($(stat -c %s cut/summary.nc) / 2)) cut/summary.nc
again again flipped && printf 'X' | dd of=flipped/summary.nc bs=1 seek=1 conv=notrunc status=none
for out in cut flipped; do
    agg $out sw && copied $out 0 5
    same $out cold3
    grep -q HDF5 $out.err && die "$out: HDF5's messages: $(cat $out.err)"
done
# a byte flipped inside one run's compressed chunk (row 1 of norm, found through HDF5's own chunk index):
# that run compressed anew, the others copied, the whole equal to cold (copying it would carry the damage)
again again chunk
/usr/bin/python3 - chunk/summary.nc <<'PY' || die "could not damage a chunk of chunk/summary.nc"
import ctypes, sys
h = ctypes.CDLL("libhdf5_openmpi.so")
hid, u64 = ctypes.c_int64, ctypes.c_uint64
h.H5open()
h.H5Fopen.restype, h.H5Fopen.argtypes = hid, [ctypes.c_char_p, ctypes.c_uint, hid]
h.H5Dopen2.restype, h.H5Dopen2.argtypes = hid, [hid, ctypes.c_char_p, hid]
h.H5Dclose.argtypes = h.H5Fclose.argtypes = [hid]
h.H5Dget_chunk_info_by_coord.argtypes = [hid, ctypes.POINTER(u64), ctypes.POINTER(ctypes.c_uint),
                                         ctypes.POINTER(u64), ctypes.POINTER(u64)]
f = h.H5Fopen(sys.argv[1].encode(), 0, 0)  # H5F_ACC_RDONLY, H5P_DEFAULT
d = h.H5Dopen2(f, b"norm", 0)
mask, addr, size = ctypes.c_uint(), u64(), u64()
assert f >= 0 and d >= 0 and h.H5Dget_chunk_info_by_coord(d, (u64 * 4)(1, 0, 0, 0), mask, addr, size) >= 0
h.H5Dclose(d), h.H5Fclose(f)
with open(sys.argv[1], "r+b") as out:
    out.seek(addr.value + size.value // 2)
    b = out.read(1)
    out.seek(-1, 1)
    out.write(bytes([b[0] ^ 0x10]))
PY
agg chunk sw && copied chunk 4 1
same chunk cold3
# a changed plan (a new run with a longer schedule: another step axis): nothing copied, equal to cold
synth --runs 1 --first 5 --steps 7
agg plan_cold --consolidate --no-cache sw
again again plan
agg plan sw && counts plan 1 5 1 && copied plan 0 6
same plan plan_cold
rm -r sw/run0005

# a run whose lock is held is training: read, its cache neither used nor rewritten
exec {lock}<>sw/run0000/lock
flock -x "$lock"
agg live sw && counts live 1 4 0
flock -u "$lock" && exec {lock}>&-
grep -q 'sw/run0000: live: still training' live.err || die "run0000 not read as live: $(cat live.err)"

# the netCDF library starts once per process (rank 0, summary.nc's writer), not again in the reading
# process, nor for each trace file it reads: each start looks for ~/.ncrc and ./.ncrc
# (LeakSanitizer cannot run under ptrace: off here in an ASan build)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=openat -o strace.txt "$agg" --no-cache --out st sw \
    >/dev/null 2>st.err || die "strace il-aggregate: exit $?: $(tail -3 st.err)"
starts=$(grep -c '/\.ncrc"' strace.txt) files=$(ls sw/*/trace/*.nc | wc -l)
[ "$starts" -le 4 ] || die "the netCDF library started $((starts / 2)) times for $files trace files"

# the processes il-aggregate forks (summary.nc's writer, the trace reader) keep the memory they free
# (aggregate.c): giving the top of the heap back and faulting it in again for every chunk was half the
# writing process's time. Runs whose summary.nc chunks and trace arrays are a few hundred KB each: no forked
# process lowers its break (hex addresses of one heap have one length, so they compare as text)
"$bin/il-synth-traces" --out heap --runs 2 --ranks 2 --steps 100 --layers 6 --seq 64 --width 32 >/dev/null
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=brk -o brk.txt "$agg" --no-cache --out heapout heap \
    >/dev/null 2>heap.err || die "strace il-aggregate heap: exit $?: $(tail -3 heap.err)"
lowered=$(awk 'NR == 1 { main = $1 } $1 != main && $2 ~ /^brk\(0x/ { a = $2; sub(/^brk\(/, "", a); sub(/[,)].*/, "", a)
    if (($1 in top) && a < top[$1]) n++; top[$1] = a } END { print n + 0 }' brk.txt)
[ "$lowered" -eq 0 ] || die "the forked processes gave their heap back $lowered times"
rm -rf heap heapout

# run directories that cannot be written: aggregated as without caches, with one note
find sw -name aggregate.cache -delete
mkdir ro && chmod 777 ro && chmod 755 .
if [ "$(id -u)" -eq 0 ]; then as_other() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
else as_other() { "$@"; }; chmod -R a-w sw; fi
as_other "$agg" --timings --out ro/out sw >ro.out 2>ro.err || die "read-only runs: exit $?: $(cat ro.err)"
[ "$(id -u)" -eq 0 ] || chmod -R u+w sw
counts ro 5 0 0
same ro/out cold3
[ "$(grep -c 'note: no run cache written' ro.err)" -eq 1 ] || die "expected one note: $(cat ro.err)"
echo ok
