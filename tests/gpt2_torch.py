#!/usr/bin/python3
"""The import's oracle in PyTorch (tests/t_import_torch.sh): GPT-2's forward written here, independently of
innerloop, from the Hugging Face GPT-2 format's documentation, over a directory of config.json and
model.safetensors read here too (8-byte little-endian header length, JSON header, raw little-endian data).

  fixture DIR                  writes the committed fixture tests/golden/gpt2-tiny (see below)
  convert SRC DST DTYPE [--prefix]   SRC's model as F16 or BF16 (exact for the fixture's values), with
                               save_pretrained's `transformer.` prefix and a tied lm_head.weight if --prefix
  logits DIR IDS OUT [--f64]   the forward's logits over the ids of IDS (text), n x V float32 to OUT;
                               computed in float32, or in float64 and rounded once with --f64
  loss DIR IDS LOSS            LOSS (il-eval's) is the forward's mean next-token loss over the n ids of IDS
                               (n - 1 predictions) within float32 rounding
  close REF GOT                numpy alone: GOT's logits within float32 rounding of REF's (see TOL)
  live IDS REF OURS DIR...     each DIR's forward over IDS in float64 against the logits REF, and in float32
                               against innerloop's logits OURS, within float32 rounding

GPT-2 as the format defines it: token plus position embedding (wte, wpe); per block h.N, pre-LayerNorm
(ln_1, ln_2, eps = config's layer_norm_epsilon), Conv1D layers whose weight is stored (in, out) so that
y = x W + b, c_attn's output split into q | k | v of n_embd each and each into n_head heads, causal attention
scaled by 1/sqrt(head size) (the attn.bias buffer of the original checkpoints, where present, is that
lower-triangular mask), GELU "gelu_new" (the tanh approximation), c_proj; ln_f; logits x wte^T (the head is
tied: lm_head.weight, where present, is wte.weight).

The committed fixture (`fixture DIR`): L 2, C 64, 4 heads, V 300, n_positions 64, random weights scaled so
that attention is peaked and GELU's inputs span its curve (so that q and k swapped, or GELU's exact form,
show), every value a BF16 number within F16's normal range, so that the F32, F16 and BF16 files of it hold
the same model exactly; the original gpt2 repository's layout (no prefix, attn.bias buffers); 64 ids drawn
at random; the reference logits.f32 are this forward's in float64, rounded to float32. It was made by this
script and PyTorch 1.13, not by `transformers`: no session that wrote it had a machine with `transformers`."""
import json, math, struct, sys

import numpy as np

# Float32 rounding. innerloop's logits and the float32 forward's each differ from the exact ones (the float64
# forward's) by the rounding of float32 arithmetic; the a-priori bound of one float32 sum of n terms is
# n units of roundoff (2^-24) of the terms' magnitudes, and the longest sums here have 4C = 256 terms: the
# bound is 256 x 2^-24 = 2^-16 of the logits' scale, their largest magnitude in the reference. Observed on
# the fixture: about 1.4e-6 of it (23 units). The planted errors move logits by far more: GELU's exact erf
# form in place of tanh's by 3e-4 of the scale, a Conv1D weight not transposed or q and k swapped by O(1).
TOL = 2.0 ** -16

def read_safetensors(path):
    """{name: float64 array of its shape}; F32, F16 and BF16 (the upper half of a float32)."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        raw = b[8 + n + lo:8 + n + hi]
        if e["dtype"] == "F32": a = np.frombuffer(raw, "<f4")
        elif e["dtype"] == "F16": a = np.frombuffer(raw, "<f2")
        elif e["dtype"] == "BF16": a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else: raise SystemExit("%s: %s: dtype %s" % (path, name, e["dtype"]))
        out[name] = a.astype(np.float64).reshape(e["shape"])
    return out

def write_safetensors(path, tensors):
    """tensors: {name: (dtype, array)}, the header in name order, each tensor's data after the last."""
    header, data = {"__metadata__": {"format": "pt"}}, []
    off = 0
    for name in sorted(tensors):
        dtype, a = tensors[name]
        a = np.asarray(a, np.float32)
        if dtype == "F32": raw = a.astype("<f4").tobytes()
        elif dtype == "F16": raw = a.astype("<f2").tobytes()
        elif dtype == "BF16": raw = (a.view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        data.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(data))

def load(d):
    cfg = json.load(open(d + "/config.json"))
    st = read_safetensors(d + "/model.safetensors")
    return cfg, {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in st.items()}

def forward(d, ids, dtype):
    """The logits (n, V) of GPT-2 in DIR d over the ids, computed in torch's dtype."""
    import torch
    import torch.nn.functional as F
    cfg, st = load(d)
    C, L, NH, eps = cfg["n_embd"], cfg["n_layer"], cfg["n_head"], cfg["layer_norm_epsilon"]
    assert cfg["activation_function"] == "gelu_new" and cfg.get("n_inner") is None, d
    W = lambda name: torch.tensor(st[name], dtype=dtype)
    n, hs = len(ids), C // NH
    x = W("wte.weight")[torch.tensor(ids)] + W("wpe.weight")[:n]
    for l in range(L):
        p = "h.%d." % l
        mask = torch.tril(torch.ones(n, n, dtype=torch.bool))
        if p + "attn.bias" in st:  # the original checkpoints' causal mask buffer
            assert torch.equal(W(p + "attn.bias")[0, 0, :n, :n].bool(), mask), p + "attn.bias"
        h = F.layer_norm(x, (C,), W(p + "ln_1.weight"), W(p + "ln_1.bias"), eps)
        q, k, v = (h @ W(p + "attn.c_attn.weight") + W(p + "attn.c_attn.bias")).split(C, dim=-1)
        q, k, v = (t.view(n, NH, hs).transpose(0, 1) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        att = torch.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(0, 1).reshape(n, C)
        x = x + y @ W(p + "attn.c_proj.weight") + W(p + "attn.c_proj.bias")
        h = F.layer_norm(x, (C,), W(p + "ln_2.weight"), W(p + "ln_2.bias"), eps)
        h = F.gelu(h @ W(p + "mlp.c_fc.weight") + W(p + "mlp.c_fc.bias"), approximate="tanh")
        x = x + h @ W(p + "mlp.c_proj.weight") + W(p + "mlp.c_proj.bias")
    x = F.layer_norm(x, (C,), W("ln_f.weight"), W("ln_f.bias"), eps)
    head = W("lm_head.weight") if "lm_head.weight" in st else W("wte.weight")
    assert torch.equal(head, W("wte.weight")), "lm_head.weight is not wte.weight"
    return x @ head.T

def read_ids(path):
    return [int(t) for t in open(path).read().split()]

def fixture(d):
    import os
    os.makedirs(d, exist_ok=True)
    V, T, L, NH, C = 300, 64, 2, 4, 64
    rng = np.random.default_rng(20240326)
    def bf16(a):
        """Rounded to BF16 (8 significant bits), magnitudes below F16's normal range (2^-14) made 2^-14:
        exact in F16 and BF16 alike."""
        a = np.asarray(a, np.float32)
        a = np.where(np.abs(a) < 2.0 ** -14, np.copysign(2.0 ** -14, a), a).astype(np.float32)
        u = a.view(np.uint32).astype(np.uint64)
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16  # round to nearest even
        return u.astype(np.uint32).view(np.float32)
    t = {"wte.weight": rng.normal(0, 0.5, (V, C)), "wpe.weight": rng.normal(0, 0.2, (T, C))}
    for l in range(L):
        p = "h.%d." % l
        t.update({p + "ln_1.weight": 1 + rng.normal(0, 0.1, C), p + "ln_1.bias": rng.normal(0, 0.1, C),
                  p + "attn.c_attn.weight": rng.normal(0, 0.3, (C, 3 * C)), p + "attn.c_attn.bias": rng.normal(0, 0.1, 3 * C),
                  p + "attn.c_proj.weight": rng.normal(0, 0.1, (C, C)), p + "attn.c_proj.bias": rng.normal(0, 0.1, C),
                  p + "ln_2.weight": 1 + rng.normal(0, 0.1, C), p + "ln_2.bias": rng.normal(0, 0.1, C),
                  p + "mlp.c_fc.weight": rng.normal(0, 0.2, (C, 4 * C)), p + "mlp.c_fc.bias": rng.normal(0, 0.1, 4 * C),
                  p + "mlp.c_proj.weight": rng.normal(0, 0.1, (4 * C, C)), p + "mlp.c_proj.bias": rng.normal(0, 0.1, C)})
    t.update({"ln_f.weight": 1 + rng.normal(0, 0.1, C), "ln_f.bias": rng.normal(0, 0.1, C)})
    tensors = {k: ("F32", bf16(v)) for k, v in t.items()}
    for l in range(L):
        tensors["h.%d.attn.bias" % l] = ("F32", np.tril(np.ones((T, T), np.float32))[None, None])
    write_safetensors(d + "/model.safetensors", tensors)
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V, "n_positions": T,
           "n_ctx": T, "n_embd": C, "n_layer": L, "n_head": NH, "n_inner": None, "activation_function": "gelu_new",
           "layer_norm_epsilon": 1e-05, "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
           "tie_word_embeddings": True}
    with open(d + "/config.json", "w") as f: json.dump(cfg, f, indent=2)
    with open(d + "/ids.txt", "w") as f: f.write(" ".join(str(i) for i in rng.integers(0, V, T)) + "\n")
    logits(d, d + "/ids.txt", d + "/logits.f32", True)

def convert(src, dst, dtype, prefix):
    import os
    os.makedirs(dst, exist_ok=True)
    cfg, st = load(src)
    pre = "transformer." if prefix else ""
    t = {pre + k: (dtype, v) for k, v in st.items()}
    if prefix: t["lm_head.weight"] = (dtype, st["wte.weight"])
    for k, (_, v) in t.items():
        f32 = np.asarray(v, np.float32)
        exact = np.array_equal(f32.astype(np.float16).astype(np.float64), v) if dtype == "F16" else \
            np.array_equal(f32, v) and not (f32.view(np.uint32) & 0xFFFF).any()
        assert exact, "%s is not exact in %s" % (k, dtype)
    write_safetensors(dst + "/model.safetensors", t)
    with open(dst + "/config.json", "w") as f: json.dump(cfg, f, indent=2)

def logits(d, ids, out, f64=False):
    import torch
    torch.set_num_threads(1)
    z = forward(d, read_ids(ids), torch.float64 if f64 else torch.float32)
    z.numpy().astype("<f4").tofile(out)

def loss(d, ids, ours):
    """0 when ours (il-eval's loss, printed to 4 decimals) is the float32 forward's mean next-token loss over
    the ids within half a unit of the 4th decimal plus twice the logits' bound (a token's loss, the log-sum-exp
    of its logits less one of them, moves by at most twice the largest change of a logit)."""
    import torch
    torch.set_num_threads(1)
    toks = read_ids(ids)
    z = forward(d, toks[:-1], torch.float32)
    theirs = float(torch.nn.functional.cross_entropy(z, torch.tensor(toks[1:])))
    bound = 5e-5 + 2 * TOL * float(z.abs().max())
    print("loss %.6f, the forward's %.6f (bound %.2g)" % (ours, theirs, bound))
    return 0 if abs(ours - theirs) <= bound else 1

def within(what, r, g):
    """0 when every logit of g is within TOL x the scale of r (its largest magnitude) of r's; says
    the largest difference in units of that scale either way."""
    r, g = np.asarray(r, np.float64).ravel(), np.asarray(g, np.float64).ravel()
    if r.shape != g.shape:
        print("%s: %d logits against %d" % (what, g.size, r.size)); return 1
    scale = np.abs(r).max()
    worst = np.abs(r - g).max() / scale
    print("%s: largest difference %.3g of the logits' scale %.3g (bound %.3g%s)" %
          (what, worst, scale, TOL, "" if worst <= TOL else ", EXCEEDED"))
    return 0 if worst <= TOL else 1

def close(ref, got):
    return within(got, np.fromfile(ref, "<f4"), np.fromfile(got, "<f4"))

def live(ids, ref, ours, dirs):
    """For each directory, the forward in float64 against the reference logits ref, and in float32
    against innerloop's, ours: 0 when all are within float32 rounding."""
    import torch
    torch.set_num_threads(1)
    toks, bad = read_ids(ids), 0
    for d in dirs:
        bad |= within(d + ": the float64 forward against " + ref, np.fromfile(ref, "<f4"),
                      forward(d, toks, torch.float64).numpy().astype(np.float32))
        bad |= within(d + ": " + ours + " against the float32 forward", forward(d, toks, torch.float32).numpy(),
                      np.fromfile(ours, "<f4"))
    return bad

if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "fixture": fixture(a[0])
    elif cmd == "convert": convert(a[0], a[1], a[2], "--prefix" in a[3:])
    elif cmd == "logits": logits(a[0], a[1], a[2], "--f64" in a[3:])
    elif cmd == "loss": sys.exit(loss(a[0], a[1], float(a[2])))
    elif cmd == "close": sys.exit(close(a[0], a[1]))
    elif cmd == "live": sys.exit(live(a[0], a[1], a[2], a[3:]))
    else: sys.exit("gpt2_torch.py: unknown command " + cmd)
