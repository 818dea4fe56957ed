#!/usr/bin/env bash
# Runs every test binary in BUILD/tests (and, unless "unit" is given, every tests/t_*.sh tool-level test),
# then prints one closing line "tests: N passed, M failed" over all suites.
set -u
build=${1:-build}
only_unit=${2:-}
pass=0; fail=0; failed=()
log=$(mktemp)
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    "$t" >"$log" 2>&1; rc=$?
    cat "$log"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
    if [ $rc -ne 0 ] && [ -z "$f" ]; then fail=$((fail + 1)); fi
    [ $rc -ne 0 ] && failed+=("$name")
done
if [ "$only_unit" != unit ]; then
    for t in tests/t_*.sh; do
        [ -f "$t" ] || continue
        echo "[ RUN      ] $t"
        if BUILD="$build" bash "$t" >"$log" 2>&1; then
            echo "[       OK ] $t"; pass=$((pass + 1))
        else
            cat "$log"; echo "[  FAILED  ] $t"; fail=$((fail + 1)); failed+=("$t")
        fi
    done
fi
rm -f "$log"
[ ${#failed[@]} -eq 0 ] || echo "failed suites: ${failed[*]}"
echo "tests: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ ${#failed[@]} -eq 0 ]
