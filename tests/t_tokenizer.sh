#!/usr/bin/env bash
# The tokenizer as a run parameter: il-train records the kind of the training data's tokenizer (the
# tokenizer.bin beside the training shard) in its trace files and launches.jsonl, and refuses a tokenizer.bin
# of other data naming both files; a run resumed across the schema change consolidates its segments of both
# schemas; il-aggregate shows the tokenizer in runs.csv and splits the claims by it; traces of
# schema 3, which lack the parameter, still aggregate with the tokenizer shown as unknown, and a trace whose
# tokenizer is no kind is skipped naming the file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_tokenizer

tiny_corpus
"$bin/il-prepare" --out bytes --tokenizer byte doc*.txt >/dev/null
tiny_ini >run.ini
cat >>run.ini <<'INI'
[train]
global_batch = 4
micro_batch = 2
max_steps = 2
[optim]
warmup_steps = 1
[trace]
interval = 1
probe_windows = 4
probe_groups = 2
INI
param() { ncdump -v tokenizer "$1" | sed -n 's/^ tokenizer = \([0-9]*\) ;$/\1/p'; }

# BPE and byte-level data: the kind of each, in every rank's file and in the launch's provenance
mpirun -n 2 --oversubscribe "$bin/il-train" --config run.ini --set run.name=bpe >/dev/null
"$bin/il-train" --config run.ini --set run.name=byte --set data.train_path=bytes/train.bin \
    --set data.val_path=bytes/val.bin >/dev/null
for f in runs/bpe/trace/rank0000.nc runs/bpe/trace/rank0001.nc; do
    [ "$(param "$f")" = 2 ] || die "$f: tokenizer $(param "$f"), expected 2 (bpe)"
done
[ "$(param runs/byte/trace/rank0000.nc)" = 1 ] || die "byte run: tokenizer $(param runs/byte/trace/rank0000.nc)"
ncdump -h runs/bpe/trace/rank0000.nc >h.txt
grep -q 'tokenizer:flag_meanings = "unknown byte bpe gpt2"' h.txt ||
    die "the tokenizer variable lacks its flag_meanings"
id=$(od -An -tx4 -j24 -N4 data/tokenizer.bin | tr -d ' ')
grep -q "\"tokenizer\":\"bpe\",\"tokenizer_id\":\"$id\",\"vocab_size\":300" runs/bpe/launches.jsonl ||
    die "launches.jsonl lacks the tokenizer: $(cat runs/bpe/launches.jsonl)"

# without tokenizer.bin: byte-level data is still known by its fixed id, other data is unknown
mkdir nobpe nobyte
cp data/train.bin data/val.bin data/train.counts nobpe/ && cp bytes/train.bin bytes/val.bin bytes/train.counts nobyte/
"$bin/il-train" --config run.ini --set run.name=nobpe --set data.train_path=nobpe/train.bin --set data.val_path=nobpe/val.bin >/dev/null
"$bin/il-train" --config run.ini --set run.name=nobyte --set data.train_path=nobyte/train.bin --set data.val_path=nobyte/val.bin >/dev/null
[ "$(param runs/nobpe/trace/rank0000.nc)" = 0 ] || die "no tokenizer.bin: tokenizer $(param runs/nobpe/trace/rank0000.nc), expected 0"
[ "$(param runs/nobyte/trace/rank0000.nc)" = 1 ] || die "byte data without tokenizer.bin is not byte"
grep -q '"tokenizer":"unknown"' runs/nobpe/launches.jsonl || die "launches.jsonl does not say unknown"

# a tokenizer.bin of other data beside the shard: refused, naming it, before the run directory is made
cp bytes/tokenizer.bin nobpe/
expect_fail il-train "nobpe/tokenizer.bin: tokenizer id" "$bin/il-train" --config run.ini --set run.name=mixed \
    --set data.train_path=nobpe/train.bin --set data.val_path=nobpe/val.bin
[ ! -e runs/mixed ] || die "a refused run left runs/mixed behind"

# a run resumed by this build after a kill under a build of schema 3: its segments of both schemas
# consolidate into one file with the signals of an uninterrupted run (variables are matched by name)
short=(--config run.ini --set train.max_steps=4 --set run.ckpt_interval=2)
"$bin/il-train" "${short[@]}" --set run.name=whole >/dev/null
rc=0
(IL_TEST_KILL=checkpoint "$bin/il-train" "${short[@]}" --set run.name=cut >/dev/null 2>&1; exit $?) 2>/dev/null || rc=$?
[ $rc -eq 137 ] || die "the run to cut exited $rc, not killed at its checkpoint"
f=runs/cut/trace/rank0000.seg0000.nc
[ -e "$f" ] && [ ! -e runs/cut/trace/rank0000.nc ] || die "the kill at the first checkpoint did not leave a segment"
ncks -O -h -x -v tokenizer "$f" "$f.tmp" && mv "$f.tmp" "$f"
ncatted -h -a trace_schema_version,global,o,l,3 "$f"
# the resumed run killed as it consolidates: its two segments, of schema 3 and 4, aggregate as the run
# of the tokenizer its newer one records
rc=0
(IL_TEST_KILL=consolidating "$bin/il-train" "${short[@]}" --set run.name=cut --resume >/dev/null 2>&1; exit $?) 2>/dev/null || rc=$?
[ $rc -eq 137 ] && [ -e runs/cut/trace/rank0000.seg0001.nc ] || die "the resumed run was not killed as it consolidated ($rc)"
"$bin/il-aggregate" --out aggcut runs/cut >/dev/null 2>cut.err || die "segments of schema 3 and 4: exit $?: $(cat cut.err)"
grep -q '^cut,runs/cut,.*,bpe,300,' aggcut/runs.csv || die "segments of schema 3 and 4: $(cat aggcut/runs.csv)"
"$bin/il-train" "${short[@]}" --set run.name=cut --resume >resume.out 2>&1 || die "resume exited $?: $(tail -3 resume.out)"
[ -e runs/cut/trace/rank0000.nc ] || die "segments of schema 3 and 4 not consolidated: $(grep -i warning resume.out)"
for r in whole cut; do ncdump -v norm,cos,lens,tokenizer runs/$r/trace/rank0000.nc | sed -n '/^data:/,$p' >$r.txt; done
cmp -s whole.txt cut.txt || die "the consolidated signals differ from an uninterrupted run's: $(diff whole.txt cut.txt | head -5)"
rm -r runs/whole runs/cut

# the aggregate: the tokenizer of each run, and the claims per tokenizer side by side
"$bin/il-aggregate" --out agg runs >/dev/null 2>agg.err || die "il-aggregate exited $?: $(cat agg.err)"
grep -q '^bpe,runs/bpe,.*,bpe,300,' agg/runs.csv || die "runs.csv lacks bpe's tokenizer: $(cat agg/runs.csv)"
grep -q '^byte,runs/byte,.*,byte,256,' agg/runs.csv || die "runs.csv lacks byte's tokenizer"
grep -q '^nobpe,runs/nobpe,.*,unknown,300,' agg/runs.csv || die "runs.csv lacks nobpe's unknown tokenizer"
grep -q '^| hypothesis | predicted | byte, V = 256 | bpe, V = 300 | unknown tokenizer, V = 300 |$' agg/claims.md ||
    die "claims.md does not show the tokenizers side by side: $(grep -m1 '^| hypothesis' agg/claims.md)"
[ "$(grep -c '^H4,byte,256,all,' agg/claims.csv)" -eq 1 ] || die "claims.csv lacks byte's H4 verdict"

# schema 3: the same files without the tokenizer variable; they aggregate, their tokenizer unknown
mkdir old && cp -r runs/bpe old/
for f in old/bpe/trace/*.nc; do
    ncks -O -h -x -v tokenizer "$f" "$f.tmp" && mv "$f.tmp" "$f"
    ncatted -h -a trace_schema_version,global,o,l,3 "$f"
done
"$bin/il-aggregate" --out aggold old >/dev/null 2>old.err || die "schema 3 traces: il-aggregate exited $?: $(cat old.err)"
grep -q '^bpe,old/bpe,.*,unknown,300,' aggold/runs.csv || die "schema 3: runs.csv: $(cat aggold/runs.csv)"
grep -q '^- Tokenizer: unknown tokenizer, V = 300 (1 run)\. An unknown tokenizer is that of traces written before' aggold/claims.md ||
    die "schema 3: claims.md does not say the tokenizer is unknown: $(grep Tokenizer aggold/claims.md)"
# schema 4 without it, or with a value that is no kind: skipped, naming the file (exit 3: some inputs skipped)
f=old/bpe/trace/rank0000.nc
ncatted -h -a trace_schema_version,global,o,l,4 "$f"
rc=0; "$bin/il-aggregate" --out aggbad old >/dev/null 2>bad.err || rc=$?
[ $rc -eq 3 ] && grep -q "$f: foreign: no variable 'tokenizer'" bad.err || die "schema 4 without tokenizer (exit $rc): $(cat bad.err)"
cp runs/bpe/trace/rank0000.nc "$f"
ncap2 -O -h -s 'tokenizer=9' "$f" "$f.tmp" && mv "$f.tmp" "$f"
rc=0; "$bin/il-aggregate" --out aggbad2 old >/dev/null 2>bad2.err || rc=$?
[ $rc -eq 3 ] && grep -q "$f: foreign: parameter 'tokenizer' = 9 is no tokenizer kind (0 to 3)" bad2.err ||
    die "tokenizer 9 (exit $rc): $(cat bad2.err)"
# two files of one run that name two tokenizers: the later one is skipped, naming both
mkdir two && cp -r runs/bpe two/
f=two/bpe/trace/rank0001.nc
ncap2 -O -h -s 'tokenizer=1' "$f" "$f.tmp" && mv "$f.tmp" "$f"
rc=0; "$bin/il-aggregate" --out aggtwo two >/dev/null 2>two.err || rc=$?
[ $rc -eq 3 ] && grep -q "$f: foreign: tokenizer byte differs from two/bpe/trace/rank0000.nc's bpe" two.err ||
    die "two tokenizers in one run (exit $rc): $(cat two.err)"
echo "$name: ok"
