"""CF and ACDD checks of an innerloop NetCDF file from its `ncdump -hs` header (Debian has no cf-checker):
the attributes a CF/ACDD checker and a user of NCO or xarray rely on.
    ncdump -hs FILE | python3 tests/cf_check.py trace|summary
Prints one line per problem and exits 1 when there is any."""
import re
import sys

kind = sys.argv[1]
text = sys.stdin.read()
problems = []

dims = dict(re.findall(r"^\t(\w+) = (UNLIMITED|\d+) ;", text, re.M))
variables = dict((name, (vtype, d)) for vtype, name, d in re.findall(r"^\t(\w+) (\w+)(?:\(([^)]*)\))? ;", text, re.M))
attrs = {}
for var, att, value in re.findall(r"^\t\t(\w*) ?:(\w+) = (.*) ;$", text, re.M):
    attrs.setdefault(var, {})[att] = value
glob = attrs.get("", {})

needed = ["Conventions", "title", "summary", "keywords", "id", "history", "date_created", "source", "creator_name",
          "institution", "license", "references", "time_coverage_start"]
if kind == "summary" or "consolidated_from" in glob:
    needed.append("time_coverage_end")
for a in needed:
    if a not in glob:
        problems.append(f"global attribute {a} missing (ACDD)")
if "CF-1.10" not in glob.get("Conventions", ""):
    problems.append("Conventions does not name CF-1.10")

for name, (vtype, d) in variables.items():
    a = attrs.get(name, {})
    if "long_name" not in a:
        problems.append(f"{name} has no long_name")
    if vtype != "string" and "units" not in a:
        problems.append(f"{name} has no units")
    if a.get("axis") == '"T"' and " since " not in a.get("units", ""):
        problems.append(f"{name}: axis T with units {a.get('units')} (CF 4.4: a time axis needs units of time)")
if "time" in variables and " since " not in attrs.get("time", {}).get("units", ""):
    problems.append("time has no units of the form '<unit> since <date>'")
if "time" in variables and not any("time" in a.get("coordinates", "").strip('"').split() for a in attrs.values()):
    problems.append("no variable names time in its coordinates attribute")

if kind == "summary":
    unlimited = [d for d, n in dims.items() if n == "UNLIMITED"]
    if unlimited != ["run"]:
        problems.append(f"unlimited dimensions {unlimited}: only run may be (NCO's record dimension)")
    for d in ("step", "depth", "layer", "position"):
        if d not in variables:
            problems.append(f"dimension {d} has no coordinate variable")
    coords = attrs.get("norm", {}).get("coordinates", "").strip('"').split()
    for c in ("run_name", "d_model", "n_layer", "seed", "time"):
        if c not in coords:
            problems.append(f"norm's coordinates lack {c}")
    for name, (vtype, d) in variables.items():
        if vtype in ("int", "int64", "uint64") and "_FillValue" in attrs.get(name, {}):
            problems.append(f"{name}: an integer always present has a _FillValue (xarray would make it float)")
    for v in ("norm", "lens", "loss"):
        if "_DeflateLevel" not in attrs.get(v, {}):
            problems.append(f"{v} is not compressed")

for p in problems:
    print(f"cf_check ({kind}): {p}")
sys.exit(1 if problems else 0)
