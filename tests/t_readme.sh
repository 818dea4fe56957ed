#!/usr/bin/env bash
# README.md's config-key table must be exactly what the code prints, so the two cannot drift.
set -euo pipefail
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
name=t_readme
source tests/lib.sh
diff <(sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' README.md | sed '1d;$d') <("$BUILD/bin/il-train" --keys) ||
    die "README.md's key table differs from il-train --keys: regenerate it"
