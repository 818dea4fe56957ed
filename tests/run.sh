#!/usr/bin/env bash
# Runs the test suites of one or more builds and prints one closing line over all of them:
# "tests: N passed, M failed". Each argument is a build directory, optionally ":unit" for its cmocka
# suites only; without it, the tool-level tests tests/t_*.sh run against that build too.
#   tests/run.sh build build/asan:unit
set -u
source "$(dirname "$0")/sanitizer.sh"   # the sanitizer options of the ASan build, and why
pass=0; fail=0; failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for arg in "${@:-build}"; do
    build=${arg%%:*}
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        rc=0; san_run "$log" "$t" || rc=$?
        cat "$log"
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
        if [ $rc -ne 0 ]; then
            [ -n "$f" ] || fail=$((fail + 1))
            failed+=("$t")
        fi
    done
    [ "$arg" != "${arg%:unit}" ] && continue
    for t in tests/t_*.sh; do
        # tests/t_cluster.sh (a 2-node private Slurm, ~3 min) runs on its own: make test-cluster
        [ "$t" = tests/t_cluster.sh ] && continue
        echo "[ RUN      ] $t ($build)"
        start=$SECONDS   # each script's time, to see where the suite's minutes go
        if BUILD="$build" bash "$t" >"$log" 2>&1; then
            echo "[       OK ] $t ($((SECONDS - start)) s)"; pass=$((pass + 1))
        else
            cat "$log"; echo "[  FAILED  ] $t"; fail=$((fail + 1)); failed+=("$t")
        fi
    done
done
[ ${#failed[@]} -eq 0 ] || echo "failed suites: ${failed[*]}"
echo "tests: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ ${#failed[@]} -eq 0 ]
