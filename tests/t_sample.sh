#!/usr/bin/env bash
# Tool-level test of il-sample: a model trained on a repetitive text continues it greedily, letter for
# letter (a known answer); the same seed gives the same text and another seed other text; top-k 1 is
# greedy; each bad input is one line naming it. Then the tokenizer goes with the model: a checkpoint is
# refused a tokenizer, or a resumed run a shard, of another tokenizer, naming both.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_sample

# one sentence over and over, in bytes: after a few hundred steps the model knows what comes next
for i in $(seq 1 400); do echo "the quick brown fox jumps over the lazy dog."; done >fox.txt
"$bin/il-prepare" --out fox --tokenizer byte fox.txt >/dev/null
tiny_ini | sed 's|data/|fox/|' >fox.ini
cat >>fox.ini <<'INI'
[train]
global_batch = 8
micro_batch = 8
max_steps = 300
[optim]
lr = 0.01
warmup_steps = 10
[eval]
interval = 0
[run]
name = fox
ckpt_interval = 300
INI
"$bin/il-train" --config fox.ini >/dev/null
ck=runs/fox/ckpt/step_00000300
sample() { "$bin/il-sample" --ckpt $ck "$@"; }

# greedy: the sentence goes on, past the 16-token window; the default tokenizer is fox/tokenizer.bin
sample --prompt "the quick brown" --tokens 40 --temperature 0 >greedy.txt
want=$(printf 'the quick brown fox jumps over the lazy dog.\nthe quick ')
[ "$(cat greedy.txt)" = "$want" ] || die "greedy continuation: got '$(cat greedy.txt)'"
sample --prompt "the quick brown" --tokens 40 --top-k 1 --seed 5 | cmp - greedy.txt || die "top-k 1 is not greedy"
printf 'the quick brown' >prompt.txt
sample --prompt-file prompt.txt --tokenizer fox/tokenizer.bin --tokens 40 --temperature 0 | cmp - greedy.txt ||
    die "--prompt-file or --tokenizer changed the text"
# seeded draws at a high temperature: the same seed the same text, another seed another
n=0
for s in 1 1 2; do sample --prompt "the" --tokens 60 --temperature 3 --seed $s --samples 2 >seed$s.$((++n)).txt; done
cmp seed1.1.txt seed1.2.txt || die "the same seed gave other text"
! cmp -s seed1.1.txt seed2.3.txt || die "another seed gave the same text"
[ "$(grep -c '^--- sample [12]$' seed1.1.txt)" = 2 ] || die "--samples 2 printed no two samples: $(cat seed1.1.txt)"

# bad input
expect_fail il-sample "--temperature" sample --prompt x --temperature -1
expect_fail il-sample "--top-k 257" sample --prompt x --top-k 257
expect_fail il-sample "--top-k" sample --prompt x --top-k -1
expect_fail il-sample "empty prompt" sample --prompt ""
expect_fail il-sample "--prompt-file" sample --prompt x --prompt-file prompt.txt
expect_fail il-sample "nosuch.txt" sample --prompt-file nosuch.txt
expect_fail il-sample "nosuch" "$bin/il-sample" --ckpt nosuch --prompt x

# the tokenizer goes with the model: a BPE tokenizer of 300 tokens is not this byte model's, and a BPE
# tokenizer of another text, with the same 300 tokens, not the BPE model's
tiny_corpus
for i in $(seq 1 12); do sed 's/[aeiou]/&&/g' doc$i.txt >other$i.txt; done
"$bin/il-prepare" --out other --tokenizer bpe --vocab 300 other*.txt >/dev/null
expect_fail il-sample "data/tokenizer.bin: tokenizer" sample --prompt x --tokenizer data/tokenizer.bin
grep -q "with vocab 300, but the model of $ck has vocab 256" err.txt || die "the refusal does not name both: $(cat err.txt)"
tiny_ini >run.ini
printf '[train]\nglobal_batch = 2\nmicro_batch = 2\nmax_steps = 4\n[optim]\nwarmup_steps = 1\n[eval]\ninterval = 0\n[run]\nname = r1\nckpt_interval = 2\n' >>run.ini
"$bin/il-train" --config run.ini >/dev/null
ck=runs/r1/ckpt/step_00000002
sample --prompt "Line 1" --tokens 3 >/dev/null || die "il-sample on the BPE model failed"
id() { od -An -tx4 -j24 -N4 "$1/tokenizer.bin" | tr -d ' '; } # its id (docs/formats.md)
expect_fail il-sample "other/tokenizer.bin: tokenizer $(id other) with vocab 300" \
    sample --prompt x --tokenizer other/tokenizer.bin
grep -q "trained with tokenizer $(id data)" err.txt || die "the refusal does not name the model's: $(cat err.txt)"
# il-eval on a shard of the other tokenizer, and a run resumed on data made again by it, are refused
expect_fail il-eval "other/val.bin" "$bin/il-eval" --checkpoint $ck --data other/val.bin
rm -r runs/r1/ckpt/step_00000004 # resume from step 2, on the data made again
mv data first && mv other data
expect_fail il-train "$(id first)" "$bin/il-train" --config run.ini --resume
grep -q "$(id data)" err.txt || die "the refusal does not name the new tokenizer: $(cat err.txt)"
echo "t_sample: ok"
