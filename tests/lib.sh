# Shared helpers for the tool-level tests (tests/t_*.sh). Source it after setting `name`.
die() { echo "$name: $*" >&2; exit 1; }
# expect_fail TOOL NEEDLE CMD...: CMD must exit with status 2 (bad input) and print exactly one line on
# stderr, "TOOL: ...", naming NEEDLE.
expect_fail() {
    local tool=$1 needle=$2 rc=0; shift 2
    "$@" >out.txt 2>err.txt || rc=$?
    [ "$rc" -eq 2 ] || die "expected exit 2, got $rc: $* ($(cat err.txt))"
    [ "$(wc -l <err.txt)" -eq 1 ] || die "expected one line of error, got: $(cat err.txt)"
    grep -q "^$tool: " err.txt || die "error lacks the $tool: prefix: $(cat err.txt)"
    grep -qF -- "$needle" err.txt || die "error does not name $needle: $(cat err.txt)"
}
