#!/usr/bin/env bash
# What il-aggregate accepts as input, at the tool level: a trace reader's own error output (a sanitizer's
# report, a library's message) reaches the skip reason in skipped.md, whether the reading process fails or
# crashes. An nc_open that writes a line to stderr and then fails or aborts is planted with LD_PRELOAD.
# The reading process serves file after file: one file that crashes it costs that file alone (the files
# after it are read by a new one), and a crash in a reader that had read other files is not blamed on the
# file until a fresh reader crashes on it too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_aggregate_input

"$bin/il-synth-traces" --out runs --runs 1 --ranks 2 --steps 5 --layers 2 --seq 8 --width 16 >/dev/null
cc=$(command -v cc || command -v gcc) || die "no C compiler"
for how in fail abort; do
    cat >plant.c <<C
#include <stdio.h>
#include <stdlib.h>
int nc_open(const char *path, int mode, int *ncid)
{
    (void)path, (void)mode, (void)ncid;
    fputs("==1==\n\nplanted: the reader's own $how\nsecond line\n", stderr);
    fflush(stderr);
    if ("$how"[0] == 'a') abort();
    return -101; /* NC_EHDFERR */
}
C
    "$cc" -shared -fPIC -o plant.so plant.c
    rc=0
    LD_PRELOAD=$PWD/plant.so IL_GNUPLOT= "$bin/il-aggregate" --out out runs >agg.out 2>&1 || rc=$?
    [ $rc -eq 3 ] || die "$how: il-aggregate exited $rc: $(cat agg.out)"
    n=$(grep -c "the reader's stderr: planted: the reader's own $how\"\?$" out/skipped.csv || true)
    [ "$n" -eq 2 ] || die "$how: the reader's stderr is not in both skip reasons: $(cat out/skipped.csv)"
done
# the second time, the last summary.nc is there to copy from, and nc_open crashes on it too: tried first in a
# throwaway process, it costs the copy, not summary.nc (written above) nor the aggregation
grep -q "note: .*out/summary.nc: reading it crashed the netCDF library: every run's curves compressed anew" agg.out ||
    die "abort: the crash on the last summary.nc is not noted: $(cat agg.out)"
grep -q "crashed reading it (signal 6" out/skipped.csv || die "abort: not named a crash: $(cat out/skipped.csv)"

# passes nc_open through, but aborts on the file named in $PLANT_FILE, or on every second file one process
# opens (PLANT_EVERY=2)
cat >pass.c <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int nc_open(const char *path, int mode, int *ncid)
{
    static int opened;
    const char *file = getenv("PLANT_FILE"), *every = getenv("PLANT_EVERY");
    if ((file && strstr(path, file)) || (every && ++opened % atoi(every) == 0)) {
        fputs("planted: a crash\n", stderr);
        abort();
    }
    return ((int (*)(const char *, int, int *))dlsym(RTLD_NEXT, "nc_open"))(path, mode, ncid);
}
C
"$cc" -shared -fPIC -o pass.so pass.c -ldl
"$bin/il-synth-traces" --out three --runs 3 --ranks 2 --steps 5 --layers 2 --seq 8 --width 16 >/dev/null
rc=0
PLANT_FILE=run0001/trace/rank0000 LD_PRELOAD=$PWD/pass.so IL_GNUPLOT= "$bin/il-aggregate" --out out three >agg.out 2>&1 ||
    rc=$?
[ $rc -eq 3 ] || die "one crashing file: il-aggregate exited $rc: $(cat agg.out)"
# the header line and the one file: the files after it were read
[ "$(wc -l <out/skipped.csv)" -eq 2 ] && grep -q "run0001/trace/rank0000[^,]*,.*crashed reading it (signal 6.*stderr: planted: a crash" out/skipped.csv ||
    die "one crashing file: not that file alone: $(cat out/skipped.csv)"
grep -q "3 runs (3 with traces)" agg.out || die "one crashing file: runs lost: $(cat agg.out)"
rc=0
PLANT_EVERY=2 LD_PRELOAD=$PWD/pass.so IL_GNUPLOT= "$bin/il-aggregate" --out out three >agg.out 2>&1 || rc=$?
[ $rc -eq 0 ] || die "a crash on each reader's second file: blamed on a file: exit $rc: $(cat out/skipped.csv)"
echo "$name: ok"
