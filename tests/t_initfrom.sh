#!/usr/bin/env bash
# Tool-level test of il-train --init-from (run/trainer.c): a new run starts from a checkpoint's parameters,
# trained here or imported (tests/hf_gpt2.py, il-ckpt import --tokenizer), at step 0 with a fresh optimizer,
# its launch recording where the weights came from; a checkpoint of other dims or another tokenizer, one
# imported without a tokenizer, or none at all is refused in one line, leaving no run directory; the
# fine-tuning example jobs/examples/finetune-gpt2.ini validates.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_initfrom

tiny_corpus
"$bin/il-prepare" --out bytes --tokenizer byte doc*.txt >/dev/null
tiny_ini >run.ini
cat >>run.ini <<'INI'
[train]
global_batch = 4
micro_batch = 2
max_steps = 6
[optim]
lr = 0.01
warmup_steps = 2
[eval]
interval = 3
batches = 2
[run]
name = src
log_interval = 1
ckpt_interval = 3
INI
train() { "$bin/il-train" --config run.ini "$@" >/dev/null; }
# metric KIND STEP RUN: the loss of that record of RUN's metrics.jsonl
metric() { sed -n "s/.*\"kind\":\"$1\",\"step\":$2,\"\(val_\)\{0,1\}loss\":\([-0-9.e+]*\).*/\2/p" "runs/$3/metrics.jsonl"; }
# il-eval's loss of CKPT on DATA over the windows and batch of a validation (eval.batches x global_batch, micro_batch)
eval_loss() { "$bin/il-eval" --checkpoint "$1" --data "$2" --windows 8 --batch 2 | sed -n 's/.*loss \([0-9.]*\) nats.*/\1/p'; }
same4() { python3 -c "import sys; sys.exit(round(float(sys.argv[1]), 4) != float(sys.argv[2]))" "$1" "$2"; }

train
src=runs/src/ckpt/step_00000006

# (a) The new run's step-0 parameters are the checkpoint's: its step-0 validation is the same computation
# (windows, batch) on the same weights as the source's at step 6, so the same number, and il-eval's.
train --set run.name=ft --init-from "$src"
a=$(metric val 0 ft) b=$(metric val 6 src)
[ -n "$a" ] && [ "$a" = "$b" ] || die "step-0 validation of the new run $a, the checkpoint's $b"
same4 "$a" "$(eval_loss "$src" data/val.bin)" || die "step-0 validation $a, il-eval of the checkpoint differs"
grep -q "\"start_step\":0" runs/ft/launches.jsonl || die "the new run does not start at step 0"
grep -q "\"source\":\"init-from $src step 6\"" runs/ft/launches.jsonl || die "launch lacks the source: $(cat runs/ft/launches.jsonl)"

# (b) Training continues: the first step's loss is near the trained one's, far below the fresh start's.
python3 -c "import sys; f, s1, s6 = map(float, sys.argv[1:]); sys.exit(not f < (s1 + s6) / 2)" \
    "$(metric train 1 ft)" "$(metric train 1 src)" "$(metric train 6 src)" ||
    die "step 1 from the checkpoint: loss $(metric train 1 ft); the source's steps 1 and 6: $(metric train 1 src), $(metric train 6 src)"

# (c) An imported GPT-2 of byte tokens, its dims in the config, the vocabulary taken from it.
python3 "$here/hf_gpt2.py" write hf --V 256 --random
"$bin/il-ckpt" import --hf hf --out imp --tokenizer bytes/tokenizer.bin >/dev/null
imp=(--set run.name=imp --set model.n_layer=2 --set model.d_model=8 --set data.train_path=bytes/train.bin
     --set data.val_path=bytes/val.bin --init-from imp/state.ckpt)
train "${imp[@]}"
a=$(metric val 0 imp)
same4 "$a" "$(eval_loss imp bytes/val.bin)" || die "step-0 validation $a, il-eval of the imported checkpoint differs"
sha=$(sha256sum hf/model.safetensors | cut -d' ' -f1)
grep -q "\"source\":\"init-from imp/state.ckpt step 0, imported from huggingface hf/model.safetensors sha256 $sha\"" \
    runs/imp/launches.jsonl || die "launch lacks the imported source: $(cat runs/imp/launches.jsonl)"

# --resume of a run that has a checkpoint continues from it, --init-from not applied again: with its last
# checkpoint gone, the run resumes at step 3 and reaches step 6's validation again exactly.
rm -r runs/imp/ckpt/step_00000006
train "${imp[@]}" --resume
grep -q '"start_step":3' runs/imp/launches.jsonl || die "the resumed launch does not start at step 3"
[ "$(grep -c '"source"' runs/imp/launches.jsonl)" -eq 1 ] || die "the resumed launch recorded --init-from"
[ "$(metric val 6 imp | wc -l)" -eq 2 ] && [ "$(metric val 6 imp | uniq | wc -l)" -eq 1 ] ||
    die "the resumed run's step-6 validation differs: $(metric val 6 imp)"

# (d) Refusals, one line each, exit 2, no run directory.
refuse() { # NEEDLE TRAIN-ARGS...
    local needle=$1; shift
    expect_fail il-train "$needle" "$bin/il-train" --config run.ini --set run.name=bad "$@"
    [ ! -e runs/bad ] || die "a refused start left runs/bad"
}
refuse "$src: model.d_model = 16, but the config says 32" --set model.d_model=32 --init-from "$src"
refuse "$src: made with tokenizer" --set data.train_path=bytes/train.bin --set data.val_path=bytes/val.bin --init-from "$src"
"$bin/il-ckpt" import --hf hf --out imp0 >/dev/null
refuse "re-import it with il-ckpt import --tokenizer" "${imp[@]:2}" --init-from imp0
refuse "nope" --init-from nope

# The example of the README, GPT-2 small fine-tuned on Brown: a valid config of GPT-2 small's shape on
# GPT-2's tokens, traced.
"$bin/il-train" --config "$root/jobs/examples/finetune-gpt2.ini" --print-config >example.ini 2>err.txt ||
    die "jobs/examples/finetune-gpt2.ini does not validate: $(cat err.txt)"
for kv in vocab_size=50257 seq_len=1024 n_layer=12 n_head=12 d_model=768 train_path=data/brown-gpt2/train.bin \
    micro_batch=1 interval=50; do
    grep -qx "${kv%%=*} = ${kv#*=}" example.ini || die "jobs/examples/finetune-gpt2.ini: no ${kv%%=*} = ${kv#*=}"
done
echo "$name: ok"
