#!/usr/bin/env bash
# Tool-level test of il-ckpt import and export (run/hfgpt2.c, run/safetensors.c) against tests/hf_gpt2.py,
# a fixture writer and oracle in the Python standard library alone:
#  - a tiny GPT-2 in Hugging Face's layout whose every weight is a distinct value lands in innerloop's
#    parameter buffer exactly where innerloop's layout puts it (so a dropped transpose of a Conv1D weight,
#    or q and k swapped in c_attn, shows), from F32, F16 and BF16 alike, with or without save_pretrained's
#    `transformer.` prefix, with the original gpt2 repository's attn.bias buffers and a tied lm_head;
#  - export writes back exactly the fixture's tensors, and import(export(x)) is x bit for bit;
#  - llm.c's gpt2_124M.bin layout of the same weights gives the same checkpoint;
#  - the imported model's il-eval loss is the loss of GPT-2's forward written in the fixture;
#  - each refusal is one line naming the tensor and shapes, or the config field.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_import
fx() { python3 "$here/hf_gpt2.py" "$@"; }
ck=$bin/il-ckpt

# Every weight in its place, from each dtype and naming.
fx write hf
"$ck" import --hf hf --out ref >/dev/null
fx check-ckpt ref
"$ck" info ref | grep -q "imported from huggingface hf/model.safetensors sha256 $(sha256sum hf/model.safetensors | cut -d' ' -f1)" ||
    die "info does not show the provenance: $("$ck" info ref)"
for variant in "--dtype F16" "--dtype BF16" "--prefix --buffers --lm-head" "--dtype BF16 --prefix --buffers"; do
    dir=hf-$(echo "$variant" | tr -d ' -')
    fx write "$dir" $variant
    "$ck" import --hf "$dir" --out "ck-$dir" >/dev/null
    fx check-ckpt "ck-$dir" || die "import of $variant misplaces weights"
    "$ck" diff ref "ck-$dir" >/dev/null || die "import of $variant differs from F32's"
done

# Export: the fixture's tensors exactly, and back again bit for bit; never over an existing directory.
"$ck" export ref --hf out >/dev/null
fx check-hf out
"$ck" import --hf out --out again >/dev/null
"$ck" diff ref again >/dev/null || die "import(export(x)) is not x"
expect_fail il-ckpt "out: already exists" "$ck" export ref --hf out
expect_fail il-ckpt "already exists" "$ck" import --hf hf --out ref
[ -z "$(ls -d out.tmp.* 2>/dev/null)" ] || die "export left a temporary directory"

# llm.c's file of the same weights.
fx llmc gpt2.bin
"$ck" import --llmc gpt2.bin --out llmc >/dev/null
"$ck" diff ref llmc >/dev/null || die "llm.c's file imports to another model"
"$ck" info llmc | grep -q "imported from llm.c gpt2.bin sha256 $(sha256sum gpt2.bin | cut -d' ' -f1)" || die "llm.c provenance"
python3 -c "import struct,sys; b=bytearray(open('gpt2.bin','rb').read()); b[4:8]=struct.pack('<i',5); open('v5.bin','wb').write(b)"
expect_fail il-ckpt "v5.bin: llm.c model version 5" "$ck" import --llmc v5.bin --out x
head -c 2000 gpt2.bin >short.bin
expect_fail il-ckpt "short.bin: 2000 bytes" "$ck" import --llmc short.bin --out x

# The imported model computes what GPT-2 computes: il-eval's loss on the first window of a byte-token shard
# against the fixture's forward over the same bytes (every document starts with the same 17).
for i in 1 2; do (echo "The quick brown fox jumps over the lazy dog ($i)"; seq 40) >doc$i.txt; done
"$bin/il-prepare" --out data --tokenizer byte --val-every 2 doc*.txt >/dev/null
fx write small --V 256 --random
"$ck" import --hf small --out small-ck --tokenizer data/tokenizer.bin >/dev/null
ours=$("$bin/il-eval" --checkpoint small-ck --data data/train.bin --windows 1 | sed -n 's/.*loss \([0-9.]*\) nats.*/\1/p')
theirs=$(fx loss small doc1.txt 16)
python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(a - b) > 2e-4)" "$ours" "$theirs" ||
    die "il-eval loss $ours, GPT-2's forward $theirs"
expect_fail il-ckpt "data/tokenizer.bin: a vocabulary of 256 tokens, but the model's is 50" \
    "$ck" import --hf hf --out x --tokenizer data/tokenizer.bin

# Refusals: one line naming the tensor and its shapes, or the config field.
refuse() { # NEEDLE FIXTURE-OPTIONS...
    local needle=$1; shift
    rm -rf bad x
    fx write bad "$@"
    expect_fail il-ckpt "$needle" "$ck" import --hf bad --out x
    [ ! -e x/state.ckpt ] || die "a refused import left a checkpoint"
}
refuse "missing tensor 'h.1.attn.c_attn.weight'" --drop h.1.attn.c_attn.weight
refuse "missing tensor 'transformer.ln_f.bias'" --prefix --drop ln_f.bias
refuse "tensor 'h.0.ln_1.b' is not part of a GPT-2 model" --rename h.0.ln_1.bias=h.0.ln_1.b
refuse "tensor 'h.0.mlp.c_fc.weight' has shape [32, 8], but config.json's GPT-2 needs [8, 32]" --reshape h.0.mlp.c_fc.weight
refuse "tensor 'h.1.ln_2.bias' has shape [9], but config.json's GPT-2 needs [8]" --reshape h.1.ln_2.bias
refuse "tensor 'h.0.ln_1.bias': dtype I32 is not supported (F32, F16, BF16)" --dtype-of h.0.ln_1.bias=I32
refuse "tensor 'lm_head.weight' differs from 'wte.weight'" --untie
refuse "activation_function = \"relu\" is not supported" --config 'activation_function="relu"'
refuse "scale_attn_by_inverse_layer_idx = true is not supported" --config scale_attn_by_inverse_layer_idx=true
refuse "tie_word_embeddings = false is not supported" --config tie_word_embeddings=false
refuse "layer_norm_epsilon = 1e-06 is not supported" --config layer_norm_epsilon=1e-6
refuse "n_inner = 16 is not supported" --config n_inner=16
refuse "bad/config.json: field n_embd is not a positive integer" --config 'n_embd=null'
# A damaged safetensors file: cut short, a header length past the end, two tensors over the same bytes.
fx write bad
head -c -4 hf/model.safetensors >bad/model.safetensors
expect_fail il-ckpt "bad/model.safetensors: tensor" "$ck" import --hf bad --out x
python3 -c "import struct; b=bytearray(open('hf/model.safetensors','rb').read()); b[0:8]=struct.pack('<Q',1<<40); open('bad/model.safetensors','wb').write(b)"
expect_fail il-ckpt "bad/model.safetensors: header length 1099511627776 does not fit" "$ck" import --hf bad --out x
python3 - <<'PY'
import json, struct
b = open('hf/model.safetensors', 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h['wpe.weight']['data_offsets'] = h['wte.weight']['data_offsets'][:1] + [h['wte.weight']['data_offsets'][0] + 512]
t = json.dumps(h).encode()
t += b' ' * (-len(t) % 8)
open('bad/model.safetensors', 'wb').write(struct.pack('<Q', len(t)) + t + b[8 + n:])
PY
expect_fail il-ckpt "overlaps" "$ck" import --hf bad --out x
echo "$name: ok"
