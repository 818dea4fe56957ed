#!/usr/bin/env bash
# Tool-level test of il-prepare: text and Brown-format inputs, both tokenizers, and each bad input.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_prepare
prep=$bin/il-prepare


# A synthetic corpus of 3 documents (fewer than 10: each is split by tokens).
for i in 1 2 3; do
    for j in $(seq 1 60); do echo "Document $i line $j: the quick brown fox jumps over the lazy dog $((i * j))."; done >doc$i.txt
done
"$prep" --out byte --tokenizer byte doc1.txt doc2.txt doc3.txt >/dev/null
"$prep" --out bpe --tokenizer bpe --vocab 300 doc1.txt doc2.txt doc3.txt >/dev/null
for d in byte bpe; do
    for f in tokenizer.bin train.bin val.bin train.counts prepare.txt; do [ -s "$d/$f" ] || die "$d/$f missing"; done
    [ -z "$(ls "$d" | grep tmp)" ] || die "temporary files left in $d"
done
# byte level: every input byte is one token, so train + val tokens = total input bytes
total=$(cat doc1.txt doc2.txt doc3.txt | wc -c)
read -r tr va < <(awk '/^train:/{t=$4} /^val:/{v=$4} END{print t, v}' byte/prepare.txt)
[ $((tr + va)) -eq "$total" ] || die "byte split holds $tr + $va tokens, input has $total bytes"
[ "$va" -gt 0 ] && [ "$va" -lt $((total / 5)) ] || die "validation share $va of $total is not about 1/10"
# a shard's size follows from its header: 40 + 2*tokens + 20*docs + 32*categories + 4 per checksum block of
# 32768 tokens + 4
[ "$(stat -c %s byte/train.bin)" -eq $((40 + 2 * tr + 20 * 3 + 32 + 4 * ((tr + 32767) / 32768) + 4)) ] ||
    die "byte/train.bin has the wrong size"
# BPE compresses the same text
read -r btr < <(awk '/^train:/{print $4}' bpe/prepare.txt)
[ "$btr" -lt $((tr * 3 / 4)) ] || die "BPE train tokens $btr not well below byte-level $tr"
grep -q "vocab 300" bpe/prepare.txt || die "bpe vocab not 300"

# Bad inputs: each exits non-zero naming the file, and leaves no outputs.
expect_fail il-prepare nosuch.txt "$prep" --out o1 nosuch.txt
: >empty.txt
expect_fail il-prepare empty.txt "$prep" --out o2 doc1.txt empty.txt
printf 'abc\0def\n' >bin.dat
expect_fail il-prepare bin.dat "$prep" --out o3 bin.dat
head -c 3000 /dev/urandom | tr -d '\000' >noise.dat
expect_fail il-prepare noise.dat "$prep" --out o4 noise.dat
for o in o1 o2 o3 o4; do [ ! -e "$o" ] || [ -z "$(ls -A "$o")" ] || die "$o has partial outputs"; done
# usage errors exit 2
set +e; "$prep" --out o5 --vocab 10 doc1.txt 2>/dev/null; rc=$?; set -e
[ $rc -eq 2 ] || die "bad --vocab exited $rc, expected 2"

# Existing outputs are not overwritten.
mkdir keep
echo "precious" >keep/val.bin
expect_fail il-prepare keep/val.bin "$prep" --out keep doc1.txt doc2.txt
[ "$(cat keep/val.bin)" = precious ] || die "keep/val.bin was changed"
[ ! -e keep/train.bin ] || die "partial outputs next to an existing one"
expect_fail il-prepare bpe/tokenizer.bin "$prep" --out bpe doc1.txt

# A Brown-format fixture: 12 documents in 3 genres (>= 10, so whole documents are held out).
mkdir brown
: >brown/cats.txt
n=0
for g in a:news b:editorial c:reviews; do
    letter=${g%%:*}; genre=${g#*:}
    for k in 01 02 03 04; do
        n=$((n + 1))
        printf '\n\n\tThe/at jury/nn said/vbd ``/`` %s/nn %s/cd ,/, and/or/cc 1/2/cd ./. \047\047/\047\047\nIt/pps ended/vbd ./.\n\n\n\tNew/jj-hl paragraph/nn-hl\n' \
            "$genre" "$n" >"brown/c$letter$k"
        echo "c$letter$k $genre" >>brown/cats.txt
    done
done
"$prep" --out bb --tokenizer byte --val-every 3 --brown brown >/dev/null
# documents 1 and 4 of each genre go to validation (every 3rd from the first)
awk '$1=="news"||$1=="editorial"||$1=="reviews"{ if ($2 != 2 || $4 != 2) bad=1; n++ } END{ exit !(n==3 && !bad) }' bb/prepare.txt ||
    die "per-category split wrong: $(cat bb/prepare.txt)"
grep -q "^train: 6 documents" bb/prepare.txt || die "expected 6 training documents"
grep -q "^val: 6 documents" bb/prepare.txt || die "expected 6 validation documents"
# tags are gone: the second news document, byte for byte, is in the training shard (byte-level ids are
# little-endian uint16 with a zero high byte, so dropping NULs leaves the text)
tr -d '\000' <bb/train.bin >bb.txt
expected='The jury said "news 2, and/or 1/2." It ended.'
grep -qaF "$expected" bb.txt || die "untagged text not found in train.bin"
grep -qaF "New paragraph" bb.txt || die "headline not found in train.bin"
! grep -qa '/nn\|/at\|``' bb.txt || die "tags left in train.bin"
# a missing document listed in cats.txt is named
echo "cd01 religion" >>brown/cats.txt
expect_fail il-prepare brown/cd01 "$prep" --out bb2 --brown brown
expect_fail il-prepare nodir/cats.txt "$prep" --out bb3 --brown nodir

# The data files read back (docs/formats.md). A changed byte in a shard is refused by every reader, naming
# the shard and the block; so is a shard of the old format without checksums, saying to re-run il-prepare.
# A counts file: a changed count fails its checksum; counts of another shard are refused by a traced run; a
# missing one is one line naming it: fatal for a traced run (H4 needs it), a warning for il-aggregate.
# flip BYTE_OFFSET FILE: xor the byte's low bit
flip() { printf "\\$(printf %o $(($(od -An -tu1 -j"$1" -N1 "$2") ^ 1)))" | dd of="$2" bs=1 seek="$1" conv=notrunc status=none; }
cp -r byte data
tiny_ini >run.ini
printf '[train]\nglobal_batch = 2\nmicro_batch = 2\nmax_steps = 2\n[optim]\nwarmup_steps = 1\n[eval]\ninterval = 0\n' >>run.ini
printf '[trace]\ninterval = 1\nprobe_windows = 2\nprobe_groups = 1\n[run]\nckpt_interval = 0\n' >>run.ini
"$bin/il-train" --config run.ini --set run.name=good >good.out 2>&1 || die "training on prepared data: $(cat good.out)"
# the low bit of token 3's low byte (byte 40 + 6): block 0, tokens 0 to N-1
cp data/train.bin good.bin
flip 46 data/train.bin
expect_fail il-eval "data/train.bin: block 0 (tokens 0 to $((tr - 1)), bytes 40 to $((40 + 2 * tr - 1))) fails its checksum" \
    "$bin/il-eval" --unigram data/train.counts --data data/train.bin
# il-train maps the shard and checks a block when it first reads it: the run starts, and stops at step 1
expect_fail il-train "data/train.bin: block 0 (tokens 0 to" "$bin/il-train" --config run.ini --set run.name=flipped
[ ! -e runs/flipped/ckpt/step_00000001 ] || die "a step was taken on a corrupt block"
cp good.bin data/train.bin
printf '\001' | dd of=data/train.bin bs=1 seek=8 conv=notrunc status=none
expect_fail il-train "data/train.bin: shard version 1, which has no checksums (this build reads version 2): re-run il-prepare" \
    "$bin/il-train" --config run.ini --set run.name=v1
cp good.bin data/train.bin
# counts: a changed count (token 97, 'a', at byte 32 + 8 * 97), counts of another shard, a missing file
cp data/train.counts good.counts
flip $((32 + 8 * 97 + 7)) data/train.counts # + 2^56
expect_fail il-eval "data/train.counts: fails its checksum" "$bin/il-eval" --unigram data/train.counts --data data/val.bin
expect_fail il-train "data/train.counts: fails its checksum" "$bin/il-train" --config run.ini --set run.name=c1
expect_fail il-train "good.counts: counts of $tr tokens, but the training shard data/val.bin has" \
    "$bin/il-train" --config run.ini --set run.name=c2 --set data.train_path=data/val.bin --set data.counts_path=good.counts
rm data/train.counts
expect_fail il-eval "data/train.counts: cannot open" "$bin/il-eval" --unigram data/train.counts --data data/val.bin
expect_fail il-train "data/train.counts: cannot open: No such file or directory (tracing needs the unigram counts" \
    "$bin/il-train" --config run.ini --set run.name=c3
for r in c1 c2 c3; do [ ! -e runs/$r ] || die "runs/$r started without usable counts"; done
"$bin/il-train" --config run.ini --set run.name=untraced --set trace.interval=0 >untraced.out 2>&1 ||
    die "an untraced run needs no counts: $(cat untraced.out)"
rc=0
"$bin/il-aggregate" --out agg runs/good >agg.out 2>agg.err || rc=$?
grep -qF "il-aggregate: warning: runs/good: no unigram baseline: data/train.counts: cannot open" agg.err ||
    die "il-aggregate does not name the missing counts (exit $rc): $(cat agg.err)"
echo ok
