#!/usr/bin/env python3
"""Fixtures and oracles of tests/t_import.sh, in the standard library alone (no torch, no numpy).

  write DIR [options]          a tiny GPT-2 in Hugging Face's layout: config.json, model.safetensors
  llmc FILE [options]          the same weights as llm.c's gpt2_124M.bin layout (version 3, padded vocab)
  check-ckpt CKPT [options]    innerloop's parameter buffer in CKPT/state.ckpt holds each weight where
                               innerloop's layout (src/model/gpt.h) puts it
  check-hf DIR [options]       an exported directory holds exactly the fixture's weights, by name
  loss DIR TEXTFILE T          GPT-2's forward, written here from the format's description, over the first
                               T+1 bytes of TEXTFILE (byte tokens): the mean next-token loss

Weights are "coded" by default: element g of the model (in Hugging Face's tensor and element order) is a
distinct value exactly representable in BF16 and F16, so that every conversion is exact and a misplaced
element (a transpose dropped, q and k swapped) shows as a wrong value. --random gives small values for
the forward instead."""
import json, math, struct, sys

def opts(argv):
    o = {"V": 50, "T": 16, "L": 2, "NH": 2, "C": 8, "dtype": "F32", "prefix": False, "buffers": False,
         "lm_head": False, "random": False, "drop": None, "reshape": None, "rename": None, "dtype_of": None, "config": [],
         "untie": False, "swap_qk": False, "no_transpose": False, "bf16_shift": 16}
    i = 0
    while i < len(argv):
        a = argv[i]; i += 1
        if a in ("--V", "--T", "--L", "--NH", "--C", "--bf16-shift"):
            o[a[2:].replace("-", "_").replace("bf16_shift", "bf16_shift")] = int(argv[i]); i += 1
        elif a == "--dtype": o["dtype"] = argv[i]; i += 1
        elif a in ("--drop", "--reshape", "--rename", "--dtype-of"): o[a[2:].replace("-", "_")] = argv[i]; i += 1
        elif a == "--config": o["config"].append(argv[i]); i += 1
        elif a in ("--prefix", "--buffers", "--lm-head", "--random", "--untie", "--swap-qk", "--no-transpose"):
            o[a[2:].replace("-", "_")] = True
        else: sys.exit("hf_gpt2.py: unknown option " + a)
    return o

def hf_tensors(o):
    """[(name, shape)] in the order the coded values are dealt."""
    V, T, L, C = o["V"], o["T"], o["L"], o["C"]
    t = [("wte.weight", (V, C)), ("wpe.weight", (T, C))]
    for l in range(L):
        p = "h.%d." % l
        t += [(p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)), (p + "attn.c_attn.weight", (C, 3 * C)),
              (p + "attn.c_attn.bias", (3 * C,)), (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
              (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)), (p + "mlp.c_fc.weight", (C, 4 * C)),
              (p + "mlp.c_fc.bias", (4 * C,)), (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,))]
    return t + [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]

def numel(shape):
    n = 1
    for s in shape: n *= s
    return n

def coded(g):
    """A distinct value for each g < 7680, exact in BF16 and F16 (exponent in F16's normal range)."""
    e, m, sign = 113 + (g // 128) % 30, g % 128, (g // 3840) & 1
    return struct.unpack("<f", struct.pack("<I", (sign << 15 | e << 7 | m) << 16))[0]

def weights(o):
    w, g, seed = {}, 0, 12345
    for name, shape in hf_tensors(o):
        vals = []
        for _ in range(numel(shape)):
            if o["random"]:
                seed = (seed * 1103515245 + 12345) % 2**31
                x = (seed / 2**31 - 0.5) * 0.6
                if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight": x += 1.0
                if name.endswith("c_attn.weight"): x *= 5  # peaked attention, so that q and k are told apart
                vals.append(struct.unpack("<f", struct.pack("<f", x))[0])
            else:
                vals.append(coded(g))
            g += 1
        w[name] = (shape, vals)
    return w

def pack(vals, dtype, shift=16):
    if dtype == "F32": return struct.pack("<%df" % len(vals), *vals)
    if dtype == "F16": return struct.pack("<%de" % len(vals), *vals)
    if dtype == "BF16":
        return b"".join(struct.pack("<H", struct.unpack("<I", struct.pack("<f", v))[0] >> shift & 0xffff) for v in vals)
    if dtype == "I32": return struct.pack("<%di" % len(vals), *[int(v) for v in vals])
    raise SystemExit("dtype " + dtype)

def write_safetensors(path, tensors):
    """tensors: [(name, dtype, shape, bytes)]."""
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)

def write(d, o):
    import os
    os.makedirs(d, exist_ok=True)
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": o["V"], "n_positions": o["T"],
           "n_ctx": o["T"], "n_embd": o["C"], "n_layer": o["L"], "n_head": o["NH"], "n_inner": None,
           "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05, "scale_attn_by_inverse_layer_idx": False,
           "tie_word_embeddings": True}
    for kv in o["config"]:
        k, v = kv.split("=", 1)
        cfg[k] = json.loads(v)
    with open(d + "/config.json", "w") as f: json.dump(cfg, f, indent=2)
    pre = "transformer." if o["prefix"] else ""
    out = []
    for name, (shape, vals) in weights(o).items():
        if name == o["drop"]: continue
        if name == o["reshape"]: shape = tuple(reversed(shape)) if len(shape) == 2 else (shape[0] + 1,); vals = vals + [0.0] * (numel(shape) - len(vals))
        dtype = o["dtype_of"].split("=")[1] if o["dtype_of"] and o["dtype_of"].split("=")[0] == name else o["dtype"]
        if o["rename"] and o["rename"].split("=")[0] == name: name = o["rename"].split("=")[1]
        out.append((pre + name, dtype, shape, pack(vals, dtype, o["bf16_shift"])))
    if o["buffers"]:  # the causal-mask buffers of the original gpt2 repository's file
        T = o["T"]
        for l in range(o["L"]):
            tril = [1.0 if j <= i else 0.0 for i in range(T) for j in range(T)]
            out.append((pre + "h.%d.attn.bias" % l, o["dtype"], (1, 1, T, T), pack(tril, o["dtype"])))
            out.append((pre + "h.%d.attn.masked_bias" % l, o["dtype"], (), pack([-1e4], o["dtype"])))
    if o["lm_head"] or o["untie"]:
        shape, vals = weights(o)["wte.weight"]
        if o["untie"]: vals = vals[:-1] + [0.5]
        out.append(("lm_head.weight", o["dtype"], shape, pack(vals, o["dtype"])))
    out.sort(key=lambda t: t[0])
    write_safetensors(d + "/model.safetensors", out)

def transpose(vals, r, c):
    """(r, c) row-major -> (c, r)."""
    return [vals[i * c + j] for j in range(c) for i in range(r)]

def expected_params(o):
    """innerloop's buffer, per src/model/gpt.h: wte wpe, per block ln1w ln1b qkvw(3C,C) qkvb projw(C,C) projb
    ln2w ln2b fcw(4C,C) fcb fcprojw(C,4C) fcprojb, then lnfw lnfb; Conv1D weights transposed."""
    w, C = weights(o), o["C"]
    p = w["wte.weight"][1] + w["wpe.weight"][1]
    for l in range(o["L"]):
        g = lambda n: w["h.%d.%s" % (l, n)][1]
        qkv = transpose(g("attn.c_attn.weight"), C, 3 * C)
        if o["swap_qk"]: qkv = qkv[C * C:2 * C * C] + qkv[:C * C] + qkv[2 * C * C:]
        T = (lambda v, r, c: v) if o["no_transpose"] else transpose
        p += g("ln_1.weight") + g("ln_1.bias") + (g("attn.c_attn.weight") if o["no_transpose"] else qkv)
        p += g("attn.c_attn.bias") + T(g("attn.c_proj.weight"), C, C) + g("attn.c_proj.bias")
        p += g("ln_2.weight") + g("ln_2.bias") + T(g("mlp.c_fc.weight"), C, 4 * C) + g("mlp.c_fc.bias")
        p += T(g("mlp.c_proj.weight"), 4 * C, C) + g("mlp.c_proj.bias")
    return p + w["ln_f.weight"][1] + w["ln_f.bias"][1]

def ckpt_sections(path):
    """state.ckpt (docs/formats.md): "ILCKPT" u16 version, then sections of tag[24] u64 bytes u32 crc u32 0,
    data padded to 8 bytes."""
    b = open(path, "rb").read()
    assert b[:6] == b"ILCKPT", path
    pos, s = 8, {}
    while pos < len(b):
        tag = b[pos:pos + 24].rstrip(b"\0").decode()
        n = struct.unpack("<Q", b[pos + 24:pos + 32])[0]
        s[tag] = b[pos + 40:pos + 40 + n]
        pos += 40 + n + (-n % 8)
    return s

def check_ckpt(ckpt, o):
    s = ckpt_sections(ckpt + "/state.ckpt")
    got = struct.unpack("<%df" % (len(s["params"]) // 4), s["params"])
    want = expected_params(o)
    if len(got) != len(want): sys.exit("check-ckpt: %d parameters, expected %d" % (len(got), len(want)))
    bad = [i for i in range(len(want)) if struct.pack("<f", got[i]) != struct.pack("<f", want[i])]
    if bad: sys.exit("check-ckpt: %d of %d parameters misplaced, first at %d: %r, expected %r" % (len(bad), len(want), bad[0], got[bad[0]], want[bad[0]]))
    dims = struct.unpack("<5i", s["dims"])
    if dims != (o["V"], o["T"], o["L"], o["NH"], o["C"]): sys.exit("check-ckpt: dims %r" % (dims,))

def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    out = {}
    for name, e in h.items():
        assert e["dtype"] == "F32", name
        lo, hi = e["data_offsets"]
        out[name] = (tuple(e["shape"]), list(struct.unpack("<%df" % ((hi - lo) // 4), b[8 + n + lo:8 + n + hi])))
    return out

def check_hf(d, o):
    got, want = read_safetensors(d + "/model.safetensors"), weights(o)
    if set(got) != set(want): sys.exit("check-hf: names differ: %r" % sorted(set(got) ^ set(want)))
    for name in want:
        if got[name][0] != tuple(want[name][0]): sys.exit("check-hf: %s has shape %r" % (name, got[name][0]))
        if [struct.pack("<f", x) for x in got[name][1]] != [struct.pack("<f", x) for x in want[name][1]]:
            sys.exit("check-hf: %s holds other values" % name)
    cfg = json.load(open(d + "/config.json"))
    for k, v in (("vocab_size", o["V"]), ("n_positions", o["T"]), ("n_layer", o["L"]), ("n_head", o["NH"]),
                 ("n_embd", o["C"]), ("activation_function", "gelu_new"), ("tie_word_embeddings", True)):
        if cfg.get(k) != v: sys.exit("check-hf: config.json %s = %r, expected %r" % (k, cfg.get(k), v))

def llmc(path, o):
    """llm.c's train_gpt2.c layout: 256 int32 header, then each tensor for all layers, Linear (out, in)."""
    w, V, C, L = weights(o), o["V"], o["C"], o["L"]
    Vp = (V + 63) // 64 * 64
    hdr = [20240326, 3, o["T"], V, L, o["NH"], C, Vp] + [0] * 248
    f32 = lambda v: struct.pack("<%df" % len(v), *v)
    raw = f32(w["wte.weight"][1]) + f32([7.0] * ((Vp - V) * C)) + f32(w["wpe.weight"][1])
    per = [("ln_1.weight", 0, 0), ("ln_1.bias", 0, 0), ("attn.c_attn.weight", C, 3 * C), ("attn.c_attn.bias", 0, 0),
           ("attn.c_proj.weight", C, C), ("attn.c_proj.bias", 0, 0), ("ln_2.weight", 0, 0), ("ln_2.bias", 0, 0),
           ("mlp.c_fc.weight", C, 4 * C), ("mlp.c_fc.bias", 0, 0), ("mlp.c_proj.weight", 4 * C, C),
           ("mlp.c_proj.bias", 0, 0)]
    for n, r, c in per:
        for l in range(L):
            v = w["h.%d.%s" % (l, n)][1]
            raw += f32(transpose(v, r, c) if r else v)
    raw += f32(w["ln_f.weight"][1]) + f32(w["ln_f.bias"][1])
    with open(path, "wb") as f: f.write(struct.pack("<256i", *hdr) + raw)

def loss(d, text, T):
    """GPT-2 as the Hugging Face format defines it: pre-LayerNorm blocks (eps 1e-5), Conv1D y = x W + b,
    c_attn's outputs q | k | v split into heads, causal attention scaled by 1/sqrt(head size), tanh GELU,
    tied head; the mean cross-entropy of each byte's successor."""
    cfg = json.load(open(d + "/config.json"))
    C, L, NH = cfg["n_embd"], cfg["n_layer"], cfg["n_head"]
    st = read_safetensors(d + "/model.safetensors")
    W = lambda n: st[n][1]
    toks = list(open(text, "rb").read()[:T + 1])
    def ln(x, g, b):
        m = sum(x) / C
        v = sum((a - m) ** 2 for a in x) / C
        return [(a - m) / math.sqrt(v + 1e-5) * g[i] + b[i] for i, a in enumerate(x)]
    def conv(x, w, b, n_out):
        return [b[j] + sum(x[i] * w[i * n_out + j] for i in range(len(x))) for j in range(n_out)]
    gelu = lambda x: 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    wte, wpe = W("wte.weight"), W("wpe.weight")
    h = [[wte[t * C + i] + wpe[p * C + i] for i in range(C)] for p, t in enumerate(toks[:T])]
    hs = C // NH
    for l in range(L):
        g = lambda n: W("h.%d.%s" % (l, n))
        qkv = [conv(ln(x, g("ln_1.weight"), g("ln_1.bias")), g("attn.c_attn.weight"), g("attn.c_attn.bias"), 3 * C) for x in h]
        y = [[0.0] * C for _ in range(T)]
        for hd in range(NH):
            for t in range(T):
                q = qkv[t][hd * hs:(hd + 1) * hs]
                s = [sum(q[i] * qkv[u][C + hd * hs + i] for i in range(hs)) / math.sqrt(hs) for u in range(t + 1)]
                mx = max(s)
                e = [math.exp(a - mx) for a in s]
                z = sum(e)
                for i in range(hs):
                    y[t][hd * hs + i] = sum(e[u] / z * qkv[u][2 * C + hd * hs + i] for u in range(t + 1))
        h = [[a + b for a, b in zip(x, conv(yy, g("attn.c_proj.weight"), g("attn.c_proj.bias"), C))] for x, yy in zip(h, y)]
        h = [[a + b for a, b in zip(x, conv([gelu(v) for v in conv(ln(x, g("ln_2.weight"), g("ln_2.bias")),
                                                                   g("mlp.c_fc.weight"), g("mlp.c_fc.bias"), 4 * C)],
                                            g("mlp.c_proj.weight"), g("mlp.c_proj.bias"), C))] for x in h]
    V = len(wte) // C
    total = 0.0
    for t in range(T):
        x = ln(h[t], W("ln_f.weight"), W("ln_f.bias"))
        logits = [sum(x[i] * wte[v * C + i] for i in range(C)) for v in range(V)]
        mx = max(logits)
        total += mx + math.log(sum(math.exp(a - mx) for a in logits)) - logits[toks[t + 1]]
    return total / T

if __name__ == "__main__":
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "loss": print("%.6f" % loss(arg, sys.argv[3], int(sys.argv[4]))); sys.exit(0)
    o = opts(sys.argv[3:])
    {"write": write, "llmc": llmc, "check-ckpt": check_ckpt, "check-hf": check_hf}[cmd](arg, o)
