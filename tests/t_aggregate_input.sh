#!/usr/bin/env bash
# What il-aggregate accepts as input, at the tool level: a trace reader's own error output (a sanitizer's
# report, a library's message) reaches the skip reason in skipped.md, whether the reading child fails or
# crashes. An nc_open that writes a line to stderr and then fails or aborts is planted with LD_PRELOAD.
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
grep -q "crashed reading it (signal 6" out/skipped.csv || die "abort: not named a crash: $(cat out/skipped.csv)"
echo "$name: ok"
