#!/usr/bin/env bash
# Tool-level test of il-prepare's streaming inputs and shard sets: stdin, directories with categories, gzip
# and zstd, JSON Lines (text and category fields, and their errors), corrupt compressed input, documents cut
# into pieces, --shard-size giving several shards, the same output on 1 and 2 threads, and debris of a dead
# writer removed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_prepare_stream
prep=$bin/il-prepare
# same DIR1 DIR2: every output of two data set directories byte for byte, but the summary, which names the
# inputs
same() {
    local f
    for f in $(ls "$1"); do [ $f = prepare.txt ] || cmp -s "$1/$f" "$2/$f" || die "$1/$f and $2/$f differ"; done
    [ "$(ls "$1")" = "$(ls "$2")" ] || die "$1 and $2 hold different files: $(ls "$1") / $(ls "$2")"
}
# no_outputs DIR: a failed run left nothing: not the directory it made, nothing in one that was there
no_outputs() { [ ! -e "$1" ] || { [ "$1" = e7 ] && [ -z "$(ls -A "$1")" ]; } || die "$1 is left, holding: $(ls -A "$1")"; }
# field N FILE: the first number after "N:" in prepare.txt's line for split N ("train: 10 documents, ...")
tokens() { awk -v s="$1:" '$1 == s {print $4}' "$2/prepare.txt"; }
docs() { awk -v s="$1:" '$1 == s {print $2}' "$2/prepare.txt"; }

# Twelve documents of exactly 1000 bytes (so one byte-level token each byte).
for i in $(seq 1 12); do
    awk -v i=$i 'BEGIN { while (length(s) < 999) s = s "document " i " says: colourless green ideas sleep furiously, " 7 * i " times. "
                       print substr(s, 1, 999) }' >doc$i.txt
done

# stdin is one document, as the same bytes in a file are
cat doc*.txt >all.txt
cat doc*.txt | "$prep" --out stdin --tokenizer byte - >/dev/null
"$prep" --out file --tokenizer byte all.txt >/dev/null
same stdin file

# gzip and zstd are told by their first bytes, not their names, and give the plain text's output
gzip -c doc1.txt >z1.txt
zstd -q -c doc2.txt >z2.txt
"$prep" --out plain --tokenizer byte doc1.txt doc2.txt doc3.txt >/dev/null
mkdir zz && cp doc3.txt zz/
"$prep" --out packed --tokenizer byte z1.txt z2.txt zz >/dev/null
same plain packed
# ... a gzip of several members too
{ gzip -c doc1.txt; gzip -c doc2.txt; } >two.gz
cat doc1.txt doc2.txt >two.txt
"$prep" --out two_plain --tokenizer byte two.txt doc3.txt >/dev/null
"$prep" --out two_gz --tokenizer byte two.gz doc3.txt >/dev/null
same two_plain two_gz

# A directory: every file below it in name order, the category the name of the file's directory; piece 0,
# k, 2k, ... of each category to validation
mkdir -p corpus/news corpus/fiction/.hidden
for i in 1 2 3 4 5 6; do cp doc$i.txt corpus/news/; done
for i in 7 8 9 10 11 12; do cp doc$i.txt corpus/fiction/; done
cp doc1.txt corpus/fiction/.hidden/
cp doc1.txt corpus/fiction/.skipped.txt
"$prep" --out dir --tokenizer byte --val-every 3 --category-from dir corpus >/dev/null
awk '$1 == "news" || $1 == "fiction" { if ($2 != 4 || $3 != 4000 || $4 != 2 || $5 != 2000) bad = 1; n++ }
     END { exit !(n == 2 && !bad) }' dir/prepare.txt || die "per-directory categories wrong: $(cat dir/prepare.txt)"
grep -q "^split: every 3-th document of each category, from its first, to validation" dir/prepare.txt ||
    die "the summary does not state the split rule: $(cat dir/prepare.txt)"
# fiction comes first (name order), and its first file in name order is doc10.txt: the first document of
# validation; the byte-level shard holds the text with a zero byte after each character
first() { head -c 100 "$1" | tail -c +41 | tr -d '\000'; }
[[ $(first dir/val.bin) == "document 10 "* ]] || die "val.bin does not start with doc10.txt"
[[ $(first dir/train.bin) == "document 11 "* ]] || die "train.bin does not start with doc11.txt"

# JSON Lines: the text and the category from fields; blank lines skipped
for i in $(seq 1 30); do
    printf '{"id": %d, "text": "Line one of record %d.\\nLine two: \\"quoted\\" \\u00e9t\\u00e9.", "src": "%s"}\n' \
        "$i" "$i" "$([ $((i % 3)) -eq 0 ] && echo web || echo books)"
    [ "$i" -ne 15 ] || echo
done >recs.jsonl
"$prep" --out js --tokenizer byte --jsonl-field text --category-field src recs.jsonl >/dev/null
awk '$1 == "books" { b = ($2 + $4 == 20 && $4 == 2) } $1 == "web" { w = ($2 + $4 == 10 && $4 == 1) }
     END { exit !(b && w) }' js/prepare.txt || die "JSON Lines categories wrong: $(cat js/prepare.txt)"
tr -d '\000' <js/val.bin >js_val.txt
grep -qaF "Line one of record 1.
Line two: \"quoted\" été." js_val.txt || die "JSON string not unescaped into the shard"
"$prep" --out js_text --tokenizer byte --jsonl-field text recs.jsonl >/dev/null
grep -q "^text .* 27 .* 3 " js_text/prepare.txt || die "JSON Lines without a category field: $(cat js_text/prepare.txt)"

# JSON Lines errors: one line naming the file and line, no outputs
sed '3s/"text"/"body"/' recs.jsonl >nofield.jsonl
expect_fail il-prepare 'nofield.jsonl:3: no field "text"' "$prep" --out e1 --jsonl-field text nofield.jsonl
sed '5s/}$//' recs.jsonl >badjson.jsonl
expect_fail il-prepare 'badjson.jsonl:5: not valid JSON' "$prep" --out e2 --jsonl-field text badjson.jsonl
sed '7s/"src": "books"/"src": 7/' recs.jsonl >badcat.jsonl
expect_fail il-prepare 'badcat.jsonl:7: field "src" is not a string' \
    "$prep" --out e3 --jsonl-field text --category-field src badcat.jsonl
# corrupt and truncated compressed input: a changed byte in the middle of a gzip stream, half of one, half of
# a zstd stream
seq 1 40000 | gzip -c >big.gz
size=$(stat -c %s big.gz)
cp big.gz bad.gz
printf '\377\377\377\377' | dd of=bad.gz bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_fail il-prepare "bad.gz: corrupt gzip data" "$prep" --out e4 --tokenizer byte doc1.txt bad.gz
head -c $((size / 2)) big.gz >cut.gz
expect_fail il-prepare "cut.gz: truncated gzip data" "$prep" --out e5 --tokenizer bpe doc1.txt cut.gz
seq 1 40000 | zstd -q -c >big.zst
head -c 20000 big.zst >cut.zst
expect_fail il-prepare "cut.zst: truncated zstd data" "$prep" --out e6 --tokenizer byte cut.zst
mkdir e7
expect_fail il-prepare "bad.gz: corrupt gzip data" "$prep" --out e7 --tokenizer byte --shard-size 0.001 corpus bad.gz
for e in e1 e2 e3 e4 e5 e6 e7; do no_outputs $e; done

# --shard-size: 10 training documents of 1000 tokens, at most 4194 tokens a shard: 3 shards of 4, 4 and 2
# documents, each a valid shard on its own; the manifest lists them with their counts, which add up to the
# training set that train.counts counts; the one validation shard keeps the name val.bin
"$prep" --out sh --tokenizer byte --shard-size 0.008 doc*.txt >/dev/null
[ "$(head -1 sh/train.shards)" = "innerloop-shards 1" ] || die "train.shards lacks its first line"
[ "$(tail -n +2 sh/train.shards | cut -f1 | paste -sd' ')" = "train-00000.bin train-00001.bin train-00002.bin" ] ||
    die "train.shards: $(cat sh/train.shards)"
[ ! -e sh/train.bin ] || die "train.bin written beside numbered shards"
sum=0
while IFS=$'\t' read -r shard n; do
    [ "$(od -An -tu8 -j20 -N8 "sh/$shard" | tr -d ' ')" = "$n" ] || die "$shard: header count is not the manifest's $n"
    "$bin/il-eval" --unigram sh/train.counts --data "sh/$shard" >/dev/null || die "$shard does not read on its own"
    sum=$((sum + n))
done < <(tail -n +2 sh/train.shards)
[ "$sum" -eq "$(tokens train sh)" ] && [ "$sum" -eq 10000 ] || die "shard counts add up to $sum"
[ "$(od -An -tu8 -j24 -N8 sh/train.counts | tr -d ' ')" -eq "$sum" ] || die "train.counts does not count every shard"
[ "$(printf 'innerloop-shards 1\nval.bin\t2000')" = "$(cat sh/val.shards)" ] || die "val.shards: $(cat sh/val.shards)"
"$bin/il-eval" --unigram sh/train.counts --data sh/val.bin >/dev/null || die "val.bin does not read"
# refused when any shard of a set is there, numbered ones included
rm sh/train.shards sh/val.bin sh/val.shards sh/train.counts sh/prepare.txt sh/tokenizer.bin sh/train-0000[01].bin
expect_fail il-prepare "sh/train-00002.bin: already exists" "$prep" --out sh --tokenizer byte doc*.txt
[ "$(ls sh)" = train-00002.bin ] || die "a refused run changed sh: $(ls sh)"

# A document longer than a piece (4 MiB) is cut at line starts: 9 MiB of lines are 3 pieces, fewer than 10,
# so the last tenth of each goes to validation
awk 'BEGIN { for (n = 0; n < 9 * 2^20; n += 35) print "a line of text that goes on and on" }' >long.txt
truncate -s $((9 << 20)) long.txt
"$prep" --out long --tokenizer byte long.txt >/dev/null 2>err.txt
[ "$(docs train long)" -eq 3 ] && [ "$(docs val long)" -eq 3 ] || die "9 MiB not cut in 3 pieces: $(cat long/prepare.txt)"
[ $(($(tokens train long) + $(tokens val long))) -eq $((9 << 20)) ] || die "pieces lost bytes"
grep -q "^split: last 1/10 of each document to validation" long/prepare.txt || die "$(cat long/prepare.txt)"
# the progress line: only asked for (stderr is not a terminal here), redrawn with a carriage return, with the
# bytes read, the speed and, the input's size being known, an ETA; one line ends it
[ ! -s err.txt ] || die "stderr not empty without --progress: $(cat err.txt)"
"$prep" --out long_pg --tokenizer byte --progress long.txt >/dev/null 2>pg.txt
grep -aq $'^\ril-prepare: encoding: [0-9.]* MB read, [0-9.]* MB/s, [0-9]*% of 9.0 MB, ETA [0-9]*:[0-9][0-9]:[0-9][0-9]' pg.txt ||
    die "no progress line: $(od -c pg.txt | head)"
[ "$(wc -l <pg.txt)" -eq 1 ] || die "the progress line does not end in one newline: $(od -c pg.txt | head)"

# BPE, JSON Lines larger than the BPE sample, read from stdin (the sample's pieces held, then the rest read)
# and from the file, on 1 and on 2 threads: the same outputs
awk 'BEGIN { for (i = 0; i < 3500; i++) { s = ""; for (j = 0; j < 60; j++) s = s sprintf("word%d is %s. ", (i * j) % 97, (j % 2 ? "green" : "asleep"));
             printf "{\"text\": \"%s\", \"cat\": \"c%d\"}\n", s, i % 4 } }' >big.jsonl
[ "$(stat -c %s big.jsonl)" -gt $((2 << 20)) ] || die "big.jsonl is smaller than twice the BPE sample"
opts=(--tokenizer bpe --vocab 400 --bpe-sample 1 --jsonl-field text --category-field cat)
"$prep" --out t1 "${opts[@]}" --threads 1 big.jsonl >/dev/null
"$prep" --out t2 "${opts[@]}" --threads 2 --memory 64 big.jsonl >/dev/null
same t1 t2
cmp -s t1/prepare.txt t2/prepare.txt || die "the summary depends on the thread count"
"$prep" --out t3 "${opts[@]}" --threads 2 - <big.jsonl >/dev/null
same t1 t3
grep -q "^train: $((3500 - 4 * 88)) documents" t1/prepare.txt || die "$(cat t1/prepare.txt)"

# What a writer killed mid-run left (a temporary shard of a process that is gone) is removed; a live
# writer's is not touched
sh -c 'exit 0' &
dead=$!
wait $dead
mkdir debris
: >debris/train-00000.bin.tmp.$dead
: >debris/val.bin.tmp.$$
"$prep" --out debris --tokenizer byte doc*.txt >/dev/null
[ ! -e debris/train-00000.bin.tmp.$dead ] || die "a dead writer's temporary shard was left"
[ -e debris/val.bin.tmp.$$ ] || die "a live writer's temporary file was removed"
# A full disk: exit 1, one line naming the shard and the system's reason, nothing left (on a 64 KiB tmpfs,
# where this machine lets root mount one)
mkdir full
if mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
    rc=0
    "$prep" --out full/o --tokenizer byte long.txt >/dev/null 2>full.err || rc=$?
    left=$(ls -A full)
    umount full
    [ "$rc" -eq 1 ] && [ "$(wc -l <full.err)" -eq 1 ] || die "a full disk: exit $rc, $(cat full.err)"
    grep -q "^il-prepare: full/o/train-00000.bin.tmp.[0-9]*: write failed: No space left on device" full.err ||
        die "a full disk: $(cat full.err)"
    [ -z "$left" ] || die "a full disk left $left"
else
    echo "$name: cannot mount a tmpfs here: the full-disk case is not tested"
fi

# One il-prepare at a time in a directory: a second one is refused while the first waits on its stdin
mkfifo fifo
"$prep" --out lk --tokenizer byte - <fifo >lk.out 2>&1 &
first=$!
exec 3>fifo
for _ in $(seq 1 100); do [ -d lk ] && break; sleep 0.05; done
sleep 0.3
expect_fail il-prepare "lk: another il-prepare is writing there" "$prep" --out lk --tokenizer byte doc1.txt
cat doc*.txt >&3
exec 3>&-
wait $first || die "the first il-prepare failed: $(cat lk.out)"
[ -s lk/train.bin ] || die "the first il-prepare wrote no train.bin"
echo ok
