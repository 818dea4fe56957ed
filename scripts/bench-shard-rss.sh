#!/usr/bin/env bash
# make bench-shard-rss: the peak resident memory (VmHWM, by /usr/bin/time) of each of 2 MPI ranks training 5
# steps of a small model on a shard set of about 1 GB of tokens, against the same on the one file with
# this build, and on the one file with the reader of commit 56a5943 (built from `git archive` of that commit),
# which read the whole shard into the heap and copied its tokens. The tokens are synthetic (il-shard-set
# synth: 500M random ids, 1 GB), cut into FILES files at document boundaries; they are made once and kept
# in $BENCH_RSS. A mapped shard's pages count in a rank's RSS once it touches them, but they are the page
# cache's, one copy for every rank of the node; the heap copies of the old reader are each rank's own.
#   scripts/bench-shard-rss.sh BUILD_DIR [TOKENS [FILES]]
set -euo pipefail
build=$(cd "$1" && pwd)
tokens=${2:-500000000} files=${3:-8}
bin=$build/bin
dir=${BENCH_RSS:-$build/bench-shard-rss}
ref=${REF_TRAIN:-$dir/ref/build/bin/il-train}
root=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 IL_PROGRESS=0
mkdir -p "$dir"
data=$dir/data-$tokens-$files
if [ ! -f "$data/train.shards" ]; then
    rm -rf "$data.tmp" && mkdir -p "$data.tmp"
    "$bin/il-shard-set" synth "$tokens" "$data.tmp/whole.bin"
    "$bin/il-shard-set" split "$data.tmp/whole.bin" "$files" "$data.tmp/train"
    mv "$data.tmp" "$data"
fi
if [ ! -x "$ref" ]; then
    echo "bench-shard-rss: building the reference il-train of commit 56a5943 in $dir/ref"
    rm -rf "$dir/ref" && mkdir -p "$dir/ref"
    git -C "$root" archive 56a5943 | tar -x -C "$dir/ref"
    make -C "$dir/ref" BUILD=build build/bin/il-train >"$dir/ref.log" 2>&1 || { tail "$dir/ref.log"; exit 1; }
fi
printf '[model]\nseq_len = 64\nn_layer = 1\nn_head = 2\nd_model = 32\n[data]\nval_path =\n[train]\nglobal_batch = 8
micro_batch = 4\nmax_steps = 5\n[optim]\nwarmup_steps = 1\n[eval]\ninterval = 0\n[trace]\ninterval = 0
[run]\nout_dir = %s/runs\n' "$dir" >"$dir/run.ini"
mb=$(du -cb "$data"/train-*.bin | awk 'END { printf "%.0f", $1 / 1e6 }')
echo "bench-shard-rss: 2 ranks, 5 steps of a 1-block model (seq_len 64, global batch 8) on $tokens tokens" \
     "($mb MB in $files files); peak RSS per rank"
# rss LABEL IL_TRAIN DATA: one run, each rank under /usr/bin/time, and its peak RSS in MB
rss() {
    rm -rf "$dir/runs" "$dir"/rss.*
    mpirun -n 2 --oversubscribe sh -c '/usr/bin/time -f %M -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' "$dir/rss" \
        "$2" --config "$dir/run.ini" --set data.train_path="$3" >"$dir/train.out"
    printf '  %-40s rank 0: %7.1f MB   rank 1: %7.1f MB\n' "$1" "$(awk '{ print $1 / 1024 }' "$dir/rss.0")" \
        "$(awk '{ print $1 / 1024 }' "$dir/rss.1")"
}
rss "mapped, the set of $files files" "$bin/il-train" "$data/train.shards"
rss "mapped, the one file" "$bin/il-train" "$data/whole.bin"
rss "56a5943 (heap copy), the one file" "$ref" "$data/whole.bin"
