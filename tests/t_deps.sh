#!/usr/bin/env bash
# scripts/deps.sh against a stub apt-get: it asks for exactly the packages of what is missing (one header,
# one command), for nothing when everything is there (npm from Node.js's own package included), and when
# apt fails it names the packages and passes on apt's error with a non-zero exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_deps

# A PATH of every command this machine has but `hide`, and the stubs: apt-get records its arguments, id
# says root. CC is a compiler that cannot find the header named by $HIDE_HEADER and is the real one else.
mkdir stub
cat >stub/apt-get <<'EOF'
#!/bin/sh
echo "$*" >>"$APT_LOG"
if [ -n "${APT_FAIL:-}" ] && [ "$1" = install ]; then
    echo "E: Unable to correct problems, you have held broken packages." >&2
    exit 100
fi
exit 0
EOF
printf '#!/bin/sh\necho 0\n' >stub/id
real_cc=$(command -v mpicc || command -v cc)
cat >stub/cc-hiding <<EOF
#!/bin/bash
[ "\${*: -1}" = - ] || exec "$real_cc" "\$@"   # a link test: no header involved
src=\$(cat)
if [ -n "\${HIDE_HEADER:-}" ] && grep -qF "<\$HIDE_HEADER>" <<<"\$src"; then exit 1; fi
exec "$real_cc" "\$@" <<<"\$src"
EOF
chmod +x stub/*
# A PATH of symlinks to every command on this machine's PATH (the first of each name), built once.
mkdir farm
IFS=: read -ra path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
    for f in "$d"/*; do
        [ -x "$f" ] && [ ! -d "$f" ] && [ ! -e "farm/${f##*/}" ] && ln -s "$f" "farm/${f##*/}"
    done
done
run_deps() { # run_deps HIDE_COMMAND HIDE_HEADER: deps.sh's exit code, its output in out.txt/err.txt
    rm -f apt.log
    local rc=0 hidden=
    [ -z "$1" ] || { hidden=$(readlink "farm/$1"); rm "farm/$1"; }
    env PATH="$tmp/stub:$tmp/farm" APT_LOG="$tmp/apt.log" APT_FAIL="${APT_FAIL:-}" HIDE_HEADER="$2" CC="$tmp/stub/cc-hiding" \
        bash "$root/scripts/deps.sh" >out.txt 2>err.txt || rc=$?
    [ -z "$hidden" ] || ln -s "$hidden" "farm/$1"
    return $rc
}

# everything present (this machine ran deps.sh before the tests): apt is not even asked
run_deps "" "" || die "deps.sh failed with everything present: $(cat err.txt)"
[ ! -e apt.log ] || die "apt-get was called with everything present: $(cat apt.log)"
grep -q "nothing to install" out.txt || die "no 'nothing to install' line: $(cat out.txt)"

# one command and one header missing: their two packages, and no other
run_deps gnuplot cmocka.h || die "deps.sh failed: $(cat err.txt)"
grep -q "^update" apt.log || die "apt-get update was not run: $(cat apt.log)"
asked=$(sed -n 's/^install .*--no-install-recommends //p' apt.log)
[ "$asked" = "libcmocka-dev gnuplot-nox" ] || die "asked for '$asked', expected 'libcmocka-dev gnuplot-nox'"
grep -q "missing: header cmocka.h, command gnuplot" out.txt || die "missing items not named: $(cat out.txt)"

# npm missing is asked for; npm present (here from Node.js's own package) never is
run_deps npm "" || die "deps.sh failed: $(cat err.txt)"
[ "$(sed -n 's/^install .*--no-install-recommends //p' apt.log)" = npm ] || die "npm missing: asked $(cat apt.log)"

# apt fails: non-zero, the packages asked for and apt's own error on stderr
rc=0
APT_FAIL=1
run_deps gnuplot "" || rc=$?
[ "$rc" -ne 0 ] || die "deps.sh exited 0 although apt-get failed"
grep -q "apt-get failed installing: gnuplot-nox" err.txt || die "failed packages not named: $(cat err.txt)"
grep -q "^E: Unable to correct problems" err.txt || die "apt's error not passed on: $(cat err.txt)"
echo "$name: ok"
