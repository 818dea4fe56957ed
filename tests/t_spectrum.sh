#!/usr/bin/env bash
# Tool-level test of the distributed spectrum (S9): on 1, 2 and 4 ranks, ScaLAPACK's pdgeqrf_ + pdgesvd_
# on rows that stay on their ranks must equal serial LAPACK on the gathered matrix to 1e-10 (relative to
# the largest singular value), including row counts that are not multiples of the 64-row block, unequal
# and empty row counts per rank, more columns than one block (so R spans blocks of both ranks), and fewer
# rows than columns (no QR step). The Gram route is
# checked the same way at 1e-8. Each run also checks that rank-local centring would have been detected.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_spectrum

run() { # ranks, then il-spectrum-check options
    local n=$1; shift
    mpirun -n "$n" --oversubscribe "$bin/il-spectrum-check" "$@" >out.txt 2>&1 || die "$n ranks, $*: $(cat out.txt)"
    grep -q ': ok$' out.txt || die "$n ranks, $*: no ok line: $(cat out.txt)"
}
for n in 1 2 4; do
    run "$n" --rows 100 --step 37 --cols 20 --k 8
    run "$n" --rows 10 --step 23 --cols 100 --k 16 # two column blocks; fewer rows than columns on 1-2 ranks
done
run 2 --rows 0 --step 40 --cols 30 --k 12 # a rank without rows
run 2 --rows 300 --step 37 --cols 130 --k 20 # R's rows in three blocks on alternating ranks
run 2 --rows 100 --step 37 --cols 20 --k 8 --method gram --tol 1e-8
run 4 --rows 0 --step 40 --cols 30 --k 12 --method gram --tol 1e-8
# the check can fail: a tolerance no double computation meets must be reported as a failure
if mpirun -n 2 --oversubscribe "$bin/il-spectrum-check" --tol 1e-300 >out.txt 2>&1; then
    die "an impossible tolerance passed: $(cat out.txt)"
fi
grep -q FAIL out.txt || die "an impossible tolerance failed without saying so: $(cat out.txt)"
