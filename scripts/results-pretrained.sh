#!/usr/bin/env bash
# make results-pretrained: measures pre-trained GPT-2 models the user already has (Hugging Face directories
# with config.json and model.safetensors) as il-train's trace step measures a model in training. Each model
# is imported (il-ckpt import) on GPT-2's tokens, probed (il-probe, under mpirun on NP ranks) on the
# training shard of the Brown Corpus, and the probed runs are aggregated (il-aggregate) into OUT. The training
# shard, not the validation shard: il-probe's frequency buckets take the unigram counts of the shard it probes,
# which il-prepare writes for the training shard alone (train.counts); and GPT-2 was trained on WebText, so
# for these models the whole Brown Corpus is held-out text.
#   OUT/ckpt/NAME        each model's imported checkpoint (NAME: the last component of its directory)
#   OUT/runs/NAME        each model's run directory: its trace, launches.jsonl (with the weights' sha256)
#   OUT/aggregate        il-aggregate's output: runs.csv, claims.md, figures
# OUT is written as OUT.part.PID and renamed when complete: an existing OUT is refused, never overwritten.
# Paths are the caller's (make's: the repository's); OUT's default is the repository's sweeps/pretrained.
#   MODELS="DIR ..." [OUT=DIR] [NP=2] [DATA=DIR] scripts/results-pretrained.sh BIN_DIR
# DATA: a directory prepared by il-prepare (tokenizer.bin, train.bin, train.counts) to probe on instead of
# data/brown-gpt2, which is then neither fetched nor prepared (the test's tiny byte-token models use it).
set -euo pipefail
me=results-pretrained
die() { echo "$me: $*" >&2; exit 2; }
bin=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/sweeps/pretrained}
np=${NP:-2}

# Every input checked before any work: one line naming what is wrong.
read -r -a models <<<"${MODELS:-}"
[ ${#models[@]} -gt 0 ] || die "MODELS is empty: name the Hugging Face GPT-2 directories (config.json, model.safetensors)"
[[ $np =~ ^[1-9][0-9]*$ ]] || die "NP = '$np' is not a positive number of ranks"
declare -A seen
dirs=() # absolute
for dir in "${models[@]}"; do
    for f in config.json model.safetensors; do [ -f "$dir/$f" ] || die "$dir/$f: no such file"; done
    dirs+=("$(cd "$dir" && pwd)")
    name=$(basename "${dirs[-1]}")
    [ -z "${seen[$name]:-}" ] || die "$dir: a second model named $name (its directory's name names its run)"
    seen[$name]=1
done
[ ! -e "$out" ] || die "$out: already exists (choose another OUT, or remove it)"
if [ -n "${DATA:-}" ]; then
    data=$DATA
    for f in tokenizer.bin train.bin; do [ -f "$data/$f" ] || die "$data/$f: no such file (DATA must be made by il-prepare)"; done
else
    data=$root/data/brown-gpt2
    (cd "$root" && TOKENIZER=gpt2 scripts/corpus.sh "$(dirname "$bin")")
fi
data=$(cd "$data" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# One writer: what a dead run of this script left (its process gone) is removed; our own part on failure.
mkdir -p "$(dirname "$out")"
for part in "$out".part.*; do
    if [ -d "$part" ] && ! kill -0 "${part##*.}" 2>/dev/null; then rm -rf "$part"; fi
done
part=$(cd "$(dirname "$out")" && pwd)/$(basename "$out").part.$$
trap 'rm -rf "$part"' EXIT
mkdir "$part"
# relative paths inside OUT from here on, so that runs.csv and claims.md name the runs as they are after the
# rename
here=$PWD
cd "$part"

# step LOG CMD...: runs CMD with its output in LOG (inside OUT); on failure prints it and stops
step() {
    local log=$1 rc=0
    shift
    "$@" >"$log" 2>&1 || rc=$?
    [ $rc -eq 0 ] || { cat "$part/$log" >&2; echo "$me: $1 exited $rc (its output above, in $out/$log)" >&2; exit 1; }
}
probe=()
for dir in "${dirs[@]}"; do
    name=$(basename "$dir")
    echo "$me: importing $dir as $out/ckpt/$name"
    step "import-$name.log" "$bin/il-ckpt" import --hf "$dir" --out "ckpt/$name" --tokenizer "$data/tokenizer.bin"
    probe+=(--ckpt "ckpt/$name")
done
echo "$me: probing ${#models[@]} model(s) on $data/train.bin with $np ranks"
# one window a pass (an imported model's default batch is 8 a rank, which NP must divide): GPT-2's activations
# for 1,024 tokens are the memory to keep small; the trace's probe keys are il-train's defaults
step probe.log mpirun -n "$np" --oversubscribe "$bin/il-probe" "${probe[@]}" --data "$data/train.bin" --out runs \
    --set train.micro_batch=1 --set train.global_batch="$np"
step aggregate.log "$bin/il-aggregate" --out aggregate runs
cd "$here"
mv -T "$part" "$out"
trap - EXIT
echo "$me: claims in $out/aggregate/claims.md (runs in $out/runs, il-aggregate's tables in $out/aggregate)"
