"""usage: probe_cmp.py TRAINED.nc PROBED.nc [STEP]: every signal of each record of PROBED (an il-probe trace
segment) equals, to float rounding, the same signal in TRAINED's record of that step (or of STEP), which
il-train's trace recorded during training. The training values (loss, lr, ...) are left out: a probe has
none. Reads the files with ncdump; Python's standard library alone."""
import re, subprocess, sys
SKIP = {"step", "time", "loss", "val_loss", "lr_schedule", "grad_norm", "tokens_per_s", "step_time"}
def load(path):
    head = subprocess.run(["ncdump", "-h", path], capture_output=True, text=True, check=True).stdout
    names = [n for n in re.findall(r"^\t\w+ (\w+)\(step[,)]", head, re.M) if n not in SKIP]
    out = subprocess.run(["ncdump", "-p", "9,17", "-v", ",".join(["step"] + names), path],
                         capture_output=True, text=True, check=True).stdout
    data = out.split("\ndata:\n", 1)[1]
    vals = {}
    for m in re.finditer(r"^ (\w+) =\s*(.*?)\s*;$", data, re.M | re.S):
        vals[m.group(1)] = [None if v.strip() == "_" else float(v) for v in m.group(2).replace("\n", " ").split(",")]
    steps = [int(s) for s in vals.pop("step")]
    return steps, {k: [v[i * len(v) // len(steps):(i + 1) * len(v) // len(steps)] for i in range(len(steps))]
                   for k, v in vals.items()}
ts, tv = load(sys.argv[1])
ps, pv = load(sys.argv[2])
n = 0
for i, s in enumerate(ps):
    j = ts.index(int(sys.argv[3]) if len(sys.argv) > 3 else s)
    for k, rows in pv.items():
        for a, b in zip(rows[i], tv[k][j]):
            same = (a is None and b is None) or (a is not None and b is not None and
                   (a == b or (a != a and b != b) or abs(a - b) <= 1e-5 * max(abs(a), abs(b)) + 1e-6))
            if not same:
                sys.exit(f"{sys.argv[2]}: {k} at step {s} is {a}, the trainer's {b}")
            n += a is not None and a == a
if n == 0: sys.exit(f"{sys.argv[2]}: no measured value to compare")
print(f"{n} measured values at steps {ps} equal")
