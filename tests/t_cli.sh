#!/usr/bin/env bash
# Tool-level test of the command lines (src/core/cli.h). Every built il-* tool: --help prints its usage on
# stdout and exits 0, --version prints one line naming the commit, an unknown option is one line on stderr
# and exit 2. il-train: --set wins over --config on either side of it, no arguments is a usage error that
# leaves nothing behind, --opt=value works, and its stdout away from a terminal is timestamped lines (or,
# with IL_PROGRESS=1, a progress line that fits $COLUMNS).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_cli

head=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || true)
tools=("$bin"/il-*)
[ ${#tools[@]} -ge 8 ] || die "only ${#tools[@]} tools in $bin"
for t in "${tools[@]}"; do
    tool=$(basename "$t")
    rc=0; "$t" --help >out.txt 2>err.txt || rc=$?
    [ $rc -eq 0 ] || die "$tool --help exited $rc: $(cat err.txt)"
    grep -q '^usage: ' out.txt && [ ! -s err.txt ] || die "$tool --help: no usage on stdout: $(head -3 out.txt err.txt)"
    rc=0; "$t" -h >out.txt 2>err.txt || rc=$?
    [ $rc -eq 0 ] && grep -q '^usage: ' out.txt || die "$tool -h exited $rc: $(head -3 out.txt err.txt)"
    rc=0; "$t" --version >out.txt 2>err.txt || rc=$?
    [ $rc -eq 0 ] || die "$tool --version exited $rc: $(cat err.txt)"
    [ "$(wc -l <out.txt)" -eq 1 ] && grep -Eq "^$tool \(innerloop [0-9]+\.[0-9]+\.[0-9]+, commit [^ )]+\)$" out.txt ||
        die "$tool --version: $(cat out.txt)"
    [ -z "$head" ] || grep -qF "$head" out.txt || die "$tool --version names another commit than $head: $(cat out.txt)"
    expect_fail "$tool" "unknown option '--no-such-option'" "$t" --no-such-option
done
# a value missing or malformed, named in one line
expect_fail il-eval "'--data' needs a value" "$bin/il-eval" --data
expect_fail il-eval "--batch" "$bin/il-eval" --batch=lots --data x --checkpoint y
expect_fail il-ckpt "info CKPT" "$bin/il-ckpt" info
# on several ranks, one rank speaks
rc=0; mpirun -n 2 --oversubscribe "$bin/il-train" --help >out.txt 2>err.txt || rc=$?
[ $rc -eq 0 ] && [ "$(grep -c '^usage: ' out.txt)" -eq 1 ] ||
    die "mpirun -n 2 il-train --help: exit $rc, $(cat out.txt err.txt)"
rc=0; mpirun -n 2 --oversubscribe "$bin/il-train" --no-such-option >out.txt 2>err.txt || rc=$?
[ $rc -ne 0 ] && [ "$(grep -c '^il-train: ' err.txt)" -eq 1 ] ||
    die "mpirun -n 2 il-train --no-such-option: exit $rc, $(cat err.txt)"

# il-train without arguments: the usage, exit 2, no run started
rc=0; "$bin/il-train" >out.txt 2>err.txt || rc=$?
[ $rc -eq 2 ] && grep -q '^usage: il-train' err.txt && [ ! -s out.txt ] ||
    die "il-train alone: exit $rc, $(head -3 err.txt)"
[ ! -e runs ] || die "il-train without arguments made $(ls -d runs/*)"

tiny_corpus
tiny_ini >run.ini
cat >>run.ini <<'INI'
[train]
global_batch = 4
micro_batch = 2
max_steps = 4
[optim]
warmup_steps = 2
[eval]
interval = 2
batches = 1
[trace]
interval = 0
[run]
log_interval = 1
INI
# --set wins on either side of --config; --config=FILE; a plain stdout is timestamped lines
env -u IL_PROGRESS "$bin/il-train" --set model.d_model=32 --set run.name=before --config=run.ini >before.out
env -u IL_PROGRESS "$bin/il-train" --config run.ini --set model.d_model=32 --set run.name=after >after.out
for r in before after; do
    grep -qx 'd_model = 32' runs/$r/config.ini || die "--set $r --config lost: $(grep d_model runs/$r/config.ini)"
done
stamp='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z '
[ "$(grep -c 'step 4/4' before.out)" -eq 1 ] || die "no line of the last step: $(cat before.out)"
bad=$(grep -Ev "$stamp" before.out || true)
[ -z "$bad" ] || die "stdout lines without a timestamp: $bad"
grep -q 'step 4 | val loss' before.out || die "no validation line on stdout: $(cat before.out)"
"$bin/il-eval" --checkpoint runs/before/ckpt/step_00000004 --data=data/val.bin >eval.out ||
    die "il-eval --data=FILE failed"
grep -q 'loss' eval.out || die "il-eval --data=FILE: $(cat eval.out)"

# IL_PROGRESS=1: a progress line redrawn in place even into a file, each draw within $COLUMNS - 1
IL_PROGRESS=1 COLUMNS=40 "$bin/il-train" --config run.ini --set run.name=progress >progress.out
grep -q $'\r' progress.out || die "IL_PROGRESS=1 drew no progress line"
longest=$(tr '\r' '\n' <progress.out | sed $'s/\033\\[K//g' |
    awk '/^step [0-9]+\/4/ { if (length > m) m = length } END { print m + 0 }')
[ "$longest" -gt 0 ] && [ "$longest" -le 39 ] ||
    die "a progress line of $longest columns at COLUMNS=40: $(cat -v progress.out)"
grep -Eq "$stamp" progress.out && die "timestamps on the progress line's stdout: $(cat -v progress.out)"
# any other value is refused before a run directory is left behind
expect_fail il-train IL_PROGRESS env IL_PROGRESS=yes "$bin/il-train" --config run.ini --set run.name=refused
[ ! -e runs/refused ] || die "a refused run left runs/refused"
echo "t_cli: ok"
