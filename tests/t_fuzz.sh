#!/usr/bin/env bash
# The aggregator survives any input: 216 seeded mutations (tests/fixtures/tools/fuzz-cases.c: byte flips in
# a trace's header and data, truncations, edited dimensions and attributes, NaN and infinite values, other
# file types, odd names, damaged metrics.jsonl, launches.jsonl and config.ini) of a real short traced
# 2-rank run, each aggregated by the ASan/UBSan build of il-aggregate with a time limit. Every case must
# end in exit 0 or 3, or in exit 2 with a one-line error (exit 3 where a value is outside its domain), and
# no sanitizer report may come from innerloop's own code (reports from inside the netCDF and HDF5 libraries,
# which read damaged files in a reading process of their own, are counted, not failed). FUZZ_CASES and
# FUZZ_SEED change the sample.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_fuzz
asan=${ASAN_BUILD:-$root/build/asan}
[ -x "$asan/bin/il-aggregate" ] || die "no ASan build at $asan (make test builds it; or: make asan)"
cases=${FUZZ_CASES:-216} seed=${FUZZ_SEED:-1}

tiny_corpus
cat >run.ini <<'INI'
[model]
seq_len = 16
n_layer = 2
n_head = 2
d_model = 16
[data]
train_path = data/train.bin
val_path = data/val.bin
[train]
global_batch = 4
micro_batch = 2
max_steps = 30
[optim]
warmup_steps = 5
[eval]
interval = 10
batches = 1
[trace]
interval = 10
[run]
name = real
INI
mpirun -n 2 --oversubscribe "$bin/il-train" --config run.ini >train.out 2>&1 || die "the real run failed: $(tail -3 train.out)"
"$bin/il-fuzz-cases" --from runs/real --out cases --cases "$cases" --seed "$seed" >/dev/null

# one case: il-aggregate under the sanitizers; its exit code, stderr and sanitizer logs stay in the case
one_case() {
    local c=$1 rc=0
    mkdir -p "$c/san"
    ASAN_OPTIONS="log_path=$c/san/report" UBSAN_OPTIONS="log_path=$c/san/report:print_stacktrace=1" IL_GNUPLOT= \
        timeout 60 "$asan/bin/il-aggregate" --out "$c/out" "$c/run" >"$c/stdout" 2>"$c/stderr" || rc=$?
    echo "$rc" >"$c/rc"
}
export -f one_case
export asan
source "$here/sanitizer.sh"
ls -d cases/case* | xargs -P 2 -I{} bash -c 'one_case {}'

# A report's culprit: the first frame (or the runtime error's location) outside the sanitizers' own runtime.
ours=0 theirs=0
for f in cases/case*/san/report*; do
    [ -e "$f" ] || continue
    grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" || continue
    culprit=$(awk '/runtime error:/ { sub(/: runtime error:.*/, ""); print; exit }
                   /^ *#[0-9]+ / && $0 !~ /(libasan|libubsan|libclang_rt|libsanitizer|sanitizer_common|in (__interceptor_|malloc|calloc|realloc|free|strdup|operator))/ {
                       print $NF; exit }' "$f")
    case $culprit in
    "$root"/src/* | "$root"/analysis/* | "$root"/tests/* | src/* | analysis/* | tests/*)
        ours=$((ours + 1))
        echo "sanitizer report from innerloop's code, $(cat "$(dirname "$(dirname "$f")")/what.txt"):" >&2
        head -30 "$f" >&2 ;;
    *) theirs=$((theirs + 1)) ;;
    esac
done

declare -A by_rc=()
bad=0
for c in cases/case*; do
    rc=$(cat "$c/rc")
    by_rc[$rc]=$((${by_rc[$rc]:-0} + 1))
    case $rc in
    0 | 3) [ $rc -eq 3 ] || ! grep -q 'must be skipped' "$c/what.txt" ||
        { bad=$((bad + 1)); echo "a value outside its domain was taken as data: $(cat "$c/what.txt")" >&2; } ;;
    2) [ "$(wc -l <"$c/stderr")" -eq 1 ] && grep -q '^il-aggregate: ' "$c/stderr" ||
        { bad=$((bad + 1)); echo "exit 2 without a one-line error: $(cat "$c/what.txt"): $(head -5 "$c/stderr")" >&2; } ;;
    *) bad=$((bad + 1)); echo "exit $rc: $(cat "$c/what.txt"): $(tail -5 "$c/stderr")" >&2 ;;
    esac
done
summary=""
for rc in $(printf '%s\n' "${!by_rc[@]}" | sort -n); do summary+=" ${by_rc[$rc]} exit $rc,"; done
echo "$name: $cases cases (seed $seed):${summary%,}; sanitizer reports: $ours from innerloop, $theirs from the libraries"
[ "$bad" -eq 0 ] || die "$bad case(s) ended otherwise than in exit 0, 3 or a one-line exit 2"
[ "$ours" -eq 0 ] || die "$ours sanitizer report(s) from innerloop's own code"
