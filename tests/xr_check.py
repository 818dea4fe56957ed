"""summary.nc and a consolidated trace file as an xarray user opens them (Debian's python3-xarray).
    python3 tests/xr_check.py SUMMARY TRACE
Prints one line per problem and exits 1 when there is any."""
import sys

import xarray as xr

summary, trace = sys.argv[1], sys.argv[2]
problems = []

ds = xr.open_dataset(summary)
for c in ("run_name", "d_model", "n_layer", "seed", "lr", "time"):
    if c not in ds.norm.coords:
        problems.append(f"summary.nc: {c} is not a coordinate of norm")
if "step" not in ds.indexes or ds.step.dtype.kind not in "iu":
    problems.append(f"summary.nc: step is not an integer index coordinate ({ds.step.dtype})")
for v in ("seed", "d_model", "n_step", "n_depth", "n_layer"):
    if ds[v].dtype.kind not in "iu":
        problems.append(f"summary.nc: {v} reads as {ds[v].dtype}, not an integer")
if ds.time.dtype.kind != "M":
    problems.append(f"summary.nc: time does not decode to datetimes ({ds.time.dtype})")
# docs/aggregate.md's examples
name = str(ds.run_name.values[0])
n_step = int(ds.n_step[0])
last = ds.norm.isel(run=0).dropna("step", how="all").step.max().item()
curve = ds.norm.sel(run=name, step=last)
if curve.dims != ("depth", "position") or bool(curve.isnull().all()):
    problems.append(f"summary.nc: the norm of {name} at step {last} is {curve.dims}, or all NaN")
if ds.norm.isel(run=0).dropna("step", how="all").sizes["step"] != n_step:
    problems.append("summary.nc: the first run's records do not match n_step")
by_size = ds.lens.groupby("d_model").mean()
if "d_model" not in by_size.dims:
    problems.append("summary.nc: cannot group the runs by d_model")

tr = xr.open_dataset(trace)
steps = tr.indexes["step"]
if not (steps.is_unique and steps.is_monotonic_increasing):
    problems.append(f"{trace}: steps repeat or go back: {list(steps)}")
try:
    xr.combine_by_coords([tr.norm.to_dataset()])
except ValueError as e:
    problems.append(f"{trace}: combine_by_coords refuses it: {e}")

for p in problems:
    print(f"xr_check: {p}")
sys.exit(1 if problems else 0)
