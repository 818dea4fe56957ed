#!/usr/bin/env bash
# The import's oracle: innerloop's forward of an imported GPT-2 against one that is not innerloop's.
#  - The committed fixture tests/golden/gpt2-tiny (L 2, C 64, 4 heads, V 300, T 64; tests/gpt2_torch.py says
#    how it was made): its import's logits over the fixture's 64 ids (il-logits) are within float32 rounding
#    of the reference logits, checked with numpy alone;
#  - its F16 and BF16 files, and save_pretrained's naming, import to the same model and the same logits;
#  - export, then import again: the same model bit for bit, and the exported files read by the PyTorch
#    forward give the reference;
#  - live, PyTorch's forward (tests/gpt2_torch.py, written from the Hugging Face format's description) of
#    each of those directories: in float64, the committed reference again; in float32, innerloop's logits;
#  - il-eval's loss of the imported model on a shard is the PyTorch forward's over the same tokens.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_import_torch
py=/usr/bin/python3
or() { "$py" "$here/gpt2_torch.py" "$@"; }
fx=$here/golden/gpt2-tiny
ck=$bin/il-ckpt

# The fixture, without PyTorch.
"$ck" import --hf "$fx" --out ref >/dev/null
"$bin/il-logits" --ckpt ref --ids "$fx/ids.txt" --out ref.f32
or close "$fx/logits.f32" ref.f32 >/dev/null || die "the fixture's logits: $(or close "$fx/logits.f32" ref.f32)"
echo "1 2 300" >bad.txt
expect_fail il-logits "bad.txt: id 300 is not below the model's vocabulary of 300" "$bin/il-logits" --ckpt ref --ids bad.txt --out x

# The same model in F16 and BF16, and as save_pretrained names it; exported and imported again.
or convert "$fx" f16 F16
or convert "$fx" bf16 BF16 --prefix
"$ck" export ref --hf exported >/dev/null
for dir in f16 bf16 exported; do
    "$ck" import --hf $dir --out ck-$dir >/dev/null
    "$ck" diff ref ck-$dir >/dev/null || die "$dir imports to another model than the fixture's F32 file"
done

# Live: PyTorch's forward of every directory against the reference, and innerloop's logits against it.
or live "$fx/ids.txt" "$fx/logits.f32" ref.f32 "$fx" f16 bf16 exported >live.txt ||
    die "PyTorch's forward: $(grep EXCEEDED live.txt)"

# The loss: il-eval on the first window of a shard of a 300-token BPE, PyTorch over the same tokens.
tiny_corpus
"$ck" import --hf "$fx" --out bpe --tokenizer data/tokenizer.bin >/dev/null
ours=$("$bin/il-eval" --checkpoint bpe --data data/train.bin --windows 1 | sed -n 's/.*loss \([0-9.]*\) nats.*/\1/p')
"$py" -c "import numpy; print(*numpy.fromfile('data/train.bin', '<u2', 65, offset=40))" >window.txt # docs/formats.md
or loss "$fx" window.txt "$ours" >/dev/null || die "il-eval's loss against PyTorch's: $(or loss "$fx" window.txt "$ours")"
echo "$name: ok"
