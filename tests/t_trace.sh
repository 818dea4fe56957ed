#!/usr/bin/env bash
# The trace schema as ncdump sees it: every variable and dimension docs/trace-schema.md lists is in a
# trace file, every variable in the file is documented, and the CF/ACDD and provenance attributes are
# there. The file is the one test_trace's round trip writes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_trace
IL_TRACE_KEEP="$tmp" "$BUILD/tests/test_trace" >"$tmp/test.out" 2>&1 || die "test_trace failed: $(cat "$tmp/test.out")"
f="$tmp/rank0003.seg0002.nc"
[ -s "$f" ] || die "no trace file at $f"
ncdump -h "$f" >"$tmp/header.txt" || die "ncdump -h cannot read $f"
ncdump -k "$f" | grep -qx 'netCDF-4' || die "$f is not netCDF-4: $(ncdump -k "$f")"
grep -q 'step = UNLIMITED' "$tmp/header.txt" || die "step is not the unlimited dimension"

# the generated tables are what the code prints
doc="$root/docs/trace-schema.md"
diff <(sed -n '/<!-- schema:begin -->/,/<!-- schema:end -->/p' "$doc" | sed '1d;$d') <("$bin/il-train" --trace-schema) ||
    die "docs/trace-schema.md's tables differ from il-train --trace-schema: regenerate them"
# documented variables: the first column of those tables, in backquotes
sed -n '/<!-- schema:begin -->/,/<!-- schema:end -->/ s/^| `\([a-z_0-9]*\)` |.*/\1/p' "$doc" | sort -u >"$tmp/documented.txt"
[ "$(wc -l <"$tmp/documented.txt")" -gt 40 ] || die "could not read the variable tables of $doc"
# variables in the file: declarations "type name(dims) ;" or "type name ;"
sed -n 's/^\t[a-z0-9]* \([a-z_0-9]*\)[( ].*;$/\1/p' "$tmp/header.txt" | sort -u >"$tmp/present.txt"
missing=$(comm -23 "$tmp/documented.txt" "$tmp/present.txt" | tr '\n' ' ')
undocumented=$(comm -13 "$tmp/documented.txt" "$tmp/present.txt" | tr '\n' ' ')
[ -z "$missing" ] || die "documented but not in the file: $missing"
[ -z "$undocumented" ] || die "in the file but not documented: $undocumented"
for a in Conventions title summary history date_created source trace_schema_version git_commit config rank \
         world_size segment start_step seed slurm_job_id slurm_array_job_id slurm_array_task_id \
         slurm_restart_count run_name probe_shard keywords id creator_name institution license references \
         time_coverage_start time_coverage_end; do
    grep -q "^		:$a = " "$tmp/header.txt" || die "global attribute $a missing"
done
grep -q ':Conventions = "CF-1.10, ACDD-1.3"' "$tmp/header.txt" || die "Conventions attribute wrong"
ncdump -hs "$f" | /usr/bin/python3 "$root/tests/cf_check.py" trace >"$tmp/cf.txt" || die "$(cat "$tmp/cf.txt")"
# ncdump writes "group :long_name": `group` is a CDL keyword
for v in $(cat "$tmp/present.txt"); do
    grep -q "^		$v \?:long_name = " "$tmp/header.txt" || die "$v has no long_name"
    grep -q "^		$v \?:units = " "$tmp/header.txt" || die "$v has no units"
done
