#!/usr/bin/env bash
# README.md stays true. Its config-key table, and docs/sweeps.md's [sweep] key table, are exactly what the
# code prints. And every command in README.md's ```sh blocks is accounted for: the cheap ones run here, from
# the repository root, and must succeed; each expensive one names the test that exercises it (which must
# exist and contain the command); site-specific ones (a cluster's modules) are listed as such. A command in
# the README that is not in the table below fails this test, so a new command cannot go unexercised.
set -euo pipefail
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
name=t_readme
source tests/lib.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
diff <(sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' README.md | sed '1d;$d') <("$BUILD/bin/il-train" --keys) ||
    die "README.md's key table differs from il-train --keys: regenerate it"
diff <(sed -n '/<!-- sweep-keys:begin -->/,/<!-- sweep-keys:end -->/p' docs/sweeps.md | sed '1d;$d') \
    <("$BUILD/bin/il-sweep" --keys) || die "docs/sweeps.md's [sweep] key table differs from il-sweep --keys: regenerate it"

# the first screen says what runs where, with a figure per node, and no example asks for a GPU it would not use
head -40 README.md | grep -q 'The trainer runs on \*\*CPUs only\*\*: fp32 matmuls through OpenBLAS SGEMM' ||
    die "README.md's first screen no longer says that the trainer runs on CPUs only"
[ "$(head -40 README.md | grep -c '^| [0-9]*-core .* GFLOP/s on [0-9]* threads | [0-9,]* tokens/s on ')" -ge 2 ] ||
    die "README.md's first screen lacks its per-node figures"
! grep -rnE '^ *gres *= *gpu' README.md docs/*.md jobs/ || die "an example asks for a GPU, which il-train never uses"

# pattern (extended regex, anchored at the start) | how it is exercised: run, site, or tests/FILE:NEEDLE
table='make demo$|tests/t_demo.sh:scripts/demo.sh
make test$|.ci/run:make test
make corpus$|run
make corpus TOKENIZER=gpt2$|tests/t_gpt2.sh:TOKENIZER=gpt2 "$root/scripts/corpus.sh" "$BUILD"
make all BLAS_DIR=|site
module load |site
build/bin/il-train --config jobs/examples/demo-run.ini$|tests/t_train.sh:il-train" --config
build/bin/il-train --config jobs/examples/demo-run.ini --print-config|run
build/bin/il-eval --checkpoint |tests/t_train.sh:il-eval" --checkpoint
build/bin/il-ckpt import --hf |tests/t_import.sh:"$ck" import --hf
build/bin/il-ckpt info |tests/t_import.sh:"$ck" info
build/bin/il-ckpt export |tests/t_import.sh:"$ck" export
build/bin/il-sample --ckpt |tests/t_sample.sh:il-sample" --ckpt
mpirun -n 2 build/bin/il-train |tests/t_mpi.sh:mpi 2 "$bin/il-train"
build/bin/il-sweep submit [^ ]+ --dry-run$|run
build/bin/il-sweep submit [^ ]+$|tests/t_slurm_sweep.sh:il-sweep" submit
build/bin/il-sweep status |tests/t_slurm_sweep.sh:il-sweep" status
build/bin/il-sweep cancel |tests/t_slurm_sweep.sh:il-sweep" cancel
build/bin/il-sweep resubmit [^ ]+ --failed$|tests/t_slurm_sweep.sh:resubmit
build/bin/il-aggregate --out |tests/t_aggregate_train.sh:il-aggregate" --out
ncdump -h runs/|tests/t_trace.sh:ncdump -h
python3 -c .import xarray|tests/t_outputs.sh:xr_check.py
make bench$|tests/t_bench.sh:il-bench" --config A
srun --nodes=1 --exclusive --ntasks=[0-9]+ --cpu-bind=none --mpi=pmix +build/bin/il-bench --scaling|tests/t_bench.sh:il-bench" --scaling
make bench-aggregate$|tests/t_bench.sh:il-synth-traces
make bench-shard-rss$|tests/t_shardset.sh:scripts/bench-shard-rss.sh
make install PREFIX=|tests/t_install.sh:install >install.out
export PKG_CONFIG_PATH=|tests/t_install.sh:export PKG_CONFIG_PATH
cc -o mine mine.c |tests/t_install.sh:pkg-config --cflags --libs innerloop)'

# the sh blocks' commands: continuation lines joined, comments and blank lines dropped
awk '/^ *```sh$/ { inside = 1; next } /^ *```$/ { inside = 0; next }
     inside { sub(/^ +/, ""); line = line $0; if (line ~ /\\$/) { sub(/\\$/, " ", line); next }
              sub(/ +#.*$/, "", line); if (line != "") print line; line = "" }' README.md >commands.txt
trap 'rm -f commands.txt' EXIT
[ "$(wc -l <commands.txt)" -ge 10 ] || die "found only $(wc -l <commands.txt) commands in README.md's sh blocks"
while IFS= read -r cmd; do
    how=$(while IFS='|' read -r pattern action; do
        if [[ $cmd =~ ^$pattern ]]; then echo "$action"; break; fi
    done <<<"$table")
    case $how in
    "") die "README command not accounted for in tests/t_readme.sh: $cmd" ;;
    site) ;;
    run) bash -c "$cmd" >/dev/null 2>readme_err.txt || die "README command failed: $cmd: $(cat readme_err.txt)" ;;
    *) file=${how%%:*} needle=${how#*:}
       grep -qF -- "$needle" "$file" || die "README command '$cmd': $file does not exercise it ($needle)" ;;
    esac
done <commands.txt
rm -f readme_err.txt
