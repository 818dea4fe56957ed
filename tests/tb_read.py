"""An independent reader of a run's TensorBoard event files (tests/t_tensorboard.sh).

usage: tb_read.py PB_DIR RUN_DIR

PB_DIR holds event_pb2.py and summary_pb2.py, compiled by protoc from tests/tensorboard/*.proto (the public
field numbers of TensorBoard's messages). Every record of RUN_DIR/tb/events.out.tfevents.* is checked: its
length and data CRC32C (computed here bit by bit, not by il-train's table), and its Event parsed by
google.protobuf. The scalars, with TensorBoard's rule for a restarted run applied (a SessionLog START at step s
drops the earlier files' records of steps >= s), must be metrics.jsonl's train and val records, step for step
and value for value to float32 precision, and the trace step's scalars the consolidated trace's. Prints one
line of counts; exits 1 naming the first difference."""
import glob
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
import event_pb2  # noqa: E402

run = sys.argv[2]


def fail(msg):
    print("tb_read: " + msg, file=sys.stderr)
    sys.exit(1)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


if crc32c(b"123456789") != 0xE3069283:
    fail("the reader's own CRC32C is wrong")


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        if len(data) - at < 12:
            fail(f"{path}: a record header cut off at byte {at}")
        head = data[at:at + 8]
        (n,) = struct.unpack("<Q", head)
        (head_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        if head_crc != masked(crc32c(head)):
            fail(f"{path}: byte {at}: the length's CRC does not match")
        body = data[at + 12:at + 12 + n]
        (body_crc,) = struct.unpack("<I", data[at + 12 + n:at + 16 + n])
        if len(body) != n or body_crc != masked(crc32c(body)):
            fail(f"{path}: byte {at}: the data's CRC does not match")
        at += 16 + n
        yield body


files = sorted(glob.glob(os.path.join(run, "tb", "events.out.tfevents.*")))
if not files:
    fail(f"{run}/tb: no event files")
scalars = {}  # tag -> {step: value}
n_records = 0
for path in files:
    for i, body in enumerate(records(path)):
        ev = event_pb2.Event()
        ev.ParseFromString(body)
        # every field must be one of the public definitions: a wrong field number or wire type would leave
        # unknown fields, or fail to parse
        parts = [ev, ev.summary, ev.session_log] + list(ev.summary.value)
        if any(len(m.UnknownFields()) for m in parts):
            fail(f"{path}: record {i}: fields outside event.proto/summary.proto")
        n_records += 1
        if i == 0:
            if ev.WhichOneof("what") != "file_version" or ev.file_version != "brain.Event:2":
                fail(f"{path}: the first record is not file_version brain.Event:2")
            continue
        if not ev.wall_time > 1e9:
            fail(f"{path}: record {i}: wall_time {ev.wall_time}")
        what = ev.WhichOneof("what")
        if what == "session_log":
            if ev.session_log.status != event_pb2.SessionLog.START:
                fail(f"{path}: record {i}: a session log that is not START")
            for steps in scalars.values():
                for s in [s for s in steps if s >= ev.step]:
                    del steps[s]
            continue
        if what != "summary":
            fail(f"{path}: record {i}: neither a summary nor a session log ({what})")
        for v in ev.summary.value:
            if v.WhichOneof("value") != "simple_value":
                fail(f"{path}: record {i}: {v.tag} has no simple_value")
            scalars.setdefault(v.tag, {})[ev.step] = v.simple_value

# metrics.jsonl, later lines of a step replacing earlier ones (a resumed launch trains them again)
want = {}
with open(os.path.join(run, "metrics.jsonl")) as f:
    for line in f:
        r = json.loads(line)
        if r.get("kind") == "train":
            for key in ("loss", "lr", "grad_norm", "tokens_per_s"):
                want.setdefault("train/" + key, {})[r["step"]] = r[key]
        elif r.get("kind") == "val":
            want.setdefault("val/loss", {})[r["step"]] = r["val_loss"]
            for genre, x in r.get("by_category", {}).items():
                want.setdefault("val/loss_by_genre/" + genre, {})[r["step"]] = x

trace = glob.glob(os.path.join(run, "trace", "rank0000.nc"))
if trace:
    import netCDF4

    with netCDF4.Dataset(trace[0]) as ds:
        steps = [int(s) for s in ds["step"][:]]
        L = ds.dimensions["depth"].size - 1
        for i, s in enumerate(steps):
            want.setdefault("trace/H4_rho_freq", {})[s] = float(ds["rho_freq"][i, L])
            for g in ("embed", "attn", "mlp", "ln"):
                want.setdefault("trace/wnorm_" + g, {})[s] = float(ds["wnorm_" + g][i])
            for l in range(L + 1):
                want.setdefault(f"trace/erank/depth_{l}", {})[s] = float(ds["erank"][i, l])


def f32(x):
    return float(np.float32(x))


if set(scalars) != set(want):
    fail(f"tags {sorted(set(scalars) ^ set(want))} are in one of the event files and the run's records only")
for tag in sorted(want):
    w = {s: x for s, x in want[tag].items() if x is not None and math.isfinite(x)}
    if sorted(scalars[tag]) != sorted(w):
        fail(f"{tag}: steps {sorted(scalars[tag])} in the event files, {sorted(w)} in the run's records")
    for s, x in w.items():
        got = scalars[tag][s]
        # float32 precision: metrics.jsonl prints 9 digits of a double, the event a float32 of the double
        if abs(got - f32(x)) > np.spacing(np.float32(abs(x))):
            fail(f"{tag} at step {s}: {got!r} in the event files, {x!r} in the run's records")
print(f"tb_read: {len(files)} files, {n_records} records, {len(scalars)} tags, "
      f"{sum(len(v) for v in scalars.values())} values match")
