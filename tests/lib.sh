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

# begin_test NAME: the common set-up of a tool-level test. Sets name, BUILD (absolute), bin (the built
# tools), root (the repository), here (tests/); makes a temporary directory tmp the working directory,
# removed on exit; lets Open MPI run as root, as it must on these machines.
begin_test() {
    name=$1
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    here=$root/tests
    BUILD=$(cd "${BUILD:-build}" && pwd)
    bin=$BUILD/bin
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cd "$tmp"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
}

# tiny_ini: the [model] and [data] sections of a one-block, 16-wide model on tiny_corpus's data; a test
# appends the sections it varies.
tiny_ini() {
    printf '[model]\nseq_len = 16\nn_layer = 1\nn_head = 2\nd_model = 16\n[data]\ntrain_path = data/train.bin\nval_path = data/val.bin\n'
}

# tiny_corpus [IL-PREPARE OPTIONS]: twelve short generated documents prepared into data/ (by default with a
# BPE tokenizer of 300 tokens).
tiny_corpus() {
    local i j
    [ $# -gt 0 ] || set -- --tokenizer bpe --vocab 300
    for i in $(seq 1 12); do
        for j in $(seq 1 60); do echo "Line $j of document $i: colourless green ideas sleep furiously, $((i * j)) times."; done >doc$i.txt
    done
    "$bin/il-prepare" --out data "$@" doc*.txt >/dev/null
}
