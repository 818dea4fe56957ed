#!/usr/bin/env bash
# The suite's sanitizer settings (tests/sanitizer.sh) still catch a leak, and a sanitizer that crashes
# inside itself is told apart from a leak report:
# - a planted leak in an MPI program built like the ASan suites is reported, and its run fails, under the
#   suite's LSAN_OPTIONS (intercept_tls_get_addr=0 and the suppressions of MPI's and the libraries' leaks);
#   the same program without the leak passes;
# - san_run runs a suite again with use_tls=0 when LeakSanitizer reported a fatal error of its own and no
#   leak, and never when it reported a leak.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_sanitizer
source "$here/sanitizer.sh"

cat >leak.c <<'C'
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
void *volatile keep; /* volatile, so that the compiler cannot drop the allocation */
int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    keep = malloc(4096);
    memset(keep, 1, 4096);
#ifdef PLANT_LEAK
    keep = NULL; /* the only pointer to the block is gone: a leak */
#else
    free(keep);
#endif
    MPI_Finalize();
    return 0;
}
C
san="-fsanitize=address,undefined -fno-omit-frame-pointer -g -O1"
mpicc $san -DPLANT_LEAK leak.c -o leaky
mpicc $san leak.c -o clean
rc=0; san_run leaky.log ./leaky || rc=$?
[ $rc -ne 0 ] || die "a planted leak passed under the suite's sanitizer options: $(tail -5 leaky.log)"
grep -q 'ERROR: LeakSanitizer: detected memory leaks' leaky.log || die "no leak report for the planted leak: $(tail -5 leaky.log)"
grep -q 'leak.c' leaky.log || die "the leak report does not name the planted allocation: $(grep -A5 'Direct leak' leaky.log)"
! grep -q 'running it again' leaky.log || die "a leak report was retried as if LeakSanitizer had crashed"
san_run clean.log ./clean || die "the leak-free program failed under the suite's sanitizer options: $(tail -5 clean.log)"

# A stand-in for a suite whose LeakSanitizer crashes in its TLS scan unless use_tls=0 is set.
cat >crashy <<'SH'
#!/usr/bin/env bash
echo "[  PASSED  ] 3 test(s)."
case ":$LSAN_OPTIONS:" in *:use_tls=0:*) exit 0 ;; esac
echo "Tracer caught signal 11: addr=0xbe8 pc=0x1 sp=0x2"
echo "==1==LeakSanitizer has encountered a fatal error."
exit 1
SH
chmod +x crashy
san_run crashy.log ./crashy || die "a suite whose LeakSanitizer crashed inside itself failed on the retry: $(cat crashy.log)"
grep -q 'crashed inside itself' crashy.log || die "the retry is not said in the log"
# ... and one that crashes again, or reports a leak, stays failed.
printf '#!/bin/sh\necho "==1==LeakSanitizer has encountered a fatal error."\nexit 1\n' >always && chmod +x always
! san_run always.log ./always || die "a suite whose LeakSanitizer crashed twice passed"
echo "t_sanitizer: ok"
