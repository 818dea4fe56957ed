#!/usr/bin/env bash
# Tool-level test of shard sets and mapped shards (src/data/shard.h): a training shard cut into a set of 2
# files is the same data to il-eval (the unigram baseline, a checkpoint's score) and to il-train on 2 ranks
# (the same parameters as on the one file); a manifest naming a missing file, a count that is not the
# shard's, or shards of two tokenizers is one line naming the manifest and its line; a corrupt token block
# does not stop the run from starting (its pages are not read at open) but stops it, every rank, with one
# line naming the file and the block, when a rank first reads it; il-eval checks a whole set at open. And
# scripts/bench-shard-rss.sh runs, tiny.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_shardset

tiny_corpus --tokenizer byte
"$bin/il-prepare" --out other --tokenizer bpe --vocab 300 doc*.txt >/dev/null
mkdir set
"$bin/il-shard-set" split data/train.bin 2 set/train
[ "$(head -1 set/train.shards)" = "innerloop-shards 1" ] && [ "$(wc -l <set/train.shards)" -eq 3 ] ||
    die "manifest: $(cat set/train.shards)"

# the unigram baseline of the set is the one file's
for d in data/train.bin set/train.shards; do
    "$bin/il-eval" --unigram data/train.counts --data $d | sed 's/.*: //' >>baseline.txt
done
[ "$(sort -u baseline.txt | wc -l)" -eq 1 ] || die "unigram baselines differ: $(cat baseline.txt)"

# 2 ranks train on the set, traced (the counts are the whole set's), as on the one file, bit for bit
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
interval = 2
probe_windows = 4
probe_groups = 2
[run]
ckpt_interval = 0
INI
mpi() { timeout 120 mpirun -n 2 --oversubscribe "$@"; }
mpi "$bin/il-train" --config run.ini --set run.name=file >/dev/null
mpi "$bin/il-train" --config run.ini --set run.name=set --set data.train_path=set/train.shards \
    --set data.counts_path=data/train.counts >/dev/null
"$bin/il-ckpt" diff runs/file/ckpt/step_00000004 runs/set/ckpt/step_00000004 >diff.out ||
    die "the set trained otherwise than the file: $(cat diff.out)"
"$bin/il-eval" --checkpoint runs/set/ckpt/step_00000004 --data set/train.shards | grep -q "loss" ||
    die "il-eval scored nothing on the set"

# bad manifests: one line naming the manifest and its line
sed '3s/^train-00001/gone/' set/train.shards >set/gone.shards
expect_fail il-train "set/gone.shards:3: set/gone.bin: cannot open" "$bin/il-train" --config run.ini \
    --set data.train_path=set/gone.shards --set run.name=x1
awk -F'\t' 'NR == 2 { $2 = $2 + 1 } 1' OFS='\t' set/train.shards >set/count.shards
expect_fail il-train "set/count.shards:2: set/train-00000.bin holds" "$bin/il-train" --config run.ini \
    --set data.train_path=set/count.shards --set run.name=x2
cp other/train.bin set/other.bin
{ head -2 set/train.shards; printf 'other.bin\t%s\n' "$(od -An -tu8 -j20 -N8 other/train.bin | tr -d ' ')"; } >set/mixed.shards
expect_fail il-eval "set/mixed.shards:3: set/other.bin: made by tokenizer" "$bin/il-eval" --unigram data/train.counts \
    --data set/mixed.shards
grep -qF "but set/train-00000.bin, the set's first shard, by tokenizer 7d66c58f" err.txt || die "$(cat err.txt)"
[ -z "$(ls runs | grep '^x')" ] || die "a refused run left a directory: $(ls runs)"

# a corrupt token of the second file (byte 40 is its first token): the run starts, and stops at its first
# step, where rank 1's lanes begin in that file, with one line naming it; il-eval refuses the set at open
printf '\xff' | dd of=set/train-00001.bin bs=1 seek=41 conv=notrunc status=none
rc=0
mpi "$bin/il-train" --config run.ini --set run.name=corrupt --set data.train_path=set/train.shards \
    --set train.order=lanes --set trace.interval=0 >corrupt.out 2>err.txt || rc=$?
[ $rc -eq 2 ] && [ "$(grep -c '^il-train: ' err.txt)" -eq 1 ] || die "corrupt block: exit $rc, $(cat err.txt)"
grep -q "^il-train: rank 1: set/train-00001.bin: block 0 (tokens 0 to .*) fails its checksum" err.txt || die "$(cat err.txt)"
grep -q "run runs/corrupt" runs/corrupt/log.txt || die "the run did not start: $(cat err.txt)"
expect_fail il-eval "set/train-00001.bin: block 0 " "$bin/il-eval" --checkpoint runs/set/ckpt/step_00000004 \
    --data set/train.shards

# make bench-shard-rss's script, tiny, with this build's il-train standing in for the reference
REF_TRAIN=$bin/il-train BENCH_RSS=$tmp/rss bash "$root/scripts/bench-shard-rss.sh" "$BUILD" 200000 2 >rss.out
[ "$(grep -Ec 'rank 0: +[0-9.]+ MB +rank 1: +[0-9.]+ MB$' rss.out)" -eq 3 ] || die "bench-shard-rss: $(cat rss.out)"
echo "t_shardset: ok"
