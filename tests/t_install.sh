#!/usr/bin/env bash
# make install PREFIX=...: an installation works without the source tree. The prefix is moved after
# installing, so nothing can rest on where it was built or installed; from it, il-prepare, il-train and
# il-aggregate run a tiny traced run and aggregate it (figures from share/innerloop/plots, with gnuplot),
# the installed jobs/train.sbatch trains with them, il-sweep finds its job templates in
# share/innerloop/jobs, and a program of a user's own, compiled
# against `pkg-config --cflags --libs innerloop`, reads the trace and summary.nc through the public reader
# as ncdump reads them. No installed file names the repository. make uninstall removes every file it
# installed and nothing else.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_install

make -C "$root" --no-print-directory BUILD="$BUILD" PREFIX="$tmp/prefix" install >install.out 2>&1 ||
    die "make install failed: $(tail -5 install.out)"
mv "$tmp/prefix" "$tmp/moved"
p=$tmp/moved
unset IL_PLOTS_DIR
# the repository's path may be in the debugging information, but nowhere a program or script reads it
for f in $(find "$p" -type f); do
    case $f in
    */bin/*) text=$(objcopy -O binary --only-section=.rodata "$f" /dev/stdout | strings; readelf -d "$f") ;;
    *.a) continue ;;
    *) text=$(cat "$f") ;;
    esac
    ! grep -qF "$root" <<<"$text" || die "$f names the repository $root"
done

cd "$(mktemp -d "$tmp/work.XXXX")"
for i in $(seq 1 12); do
    for j in $(seq 1 60); do echo "Line $j of document $i: colourless green ideas sleep furiously, $((i * j)) times."; done >doc$i.txt
done
"$p/bin/il-prepare" --out data --tokenizer bpe --vocab 300 doc*.txt >/dev/null || die "installed il-prepare failed"
tiny_ini >run.ini
"$p/bin/il-train" --config run.ini --set train.global_batch=4 --set train.micro_batch=4 --set train.max_steps=20 \
    --set optim.warmup_steps=2 --set eval.interval=10 --set eval.batches=1 --set trace.interval=10 \
    --set trace.probe_windows=4 --set trace.probe_groups=2 --set run.name=inst >train.out 2>&1 ||
    die "installed il-train failed: $(tail -3 train.out)"
trace=runs/inst/trace/rank0000.nc
[ -s $trace ] || "$p/bin/il-aggregate" --consolidate --out out runs >/dev/null 2>&1 || true
rc=0
"$p/bin/il-aggregate" --out out runs >agg.out 2>&1 || rc=$?
[ $rc -eq 0 ] || die "installed il-aggregate exited $rc: $(tail -3 agg.out)"
[ -s out/summary.nc ] || die "no summary.nc"
[ -s $trace ] || die "no consolidated trace $trace: $(ls runs/inst/trace)"
if command -v gnuplot >/dev/null; then
    ls out/figures/*.png >/dev/null 2>&1 || die "no figures: the installed plots were not found ($(tail -3 agg.out))"
fi
# the single-run batch template as a module would run it (INNERLOOP_SHARE, PATH), with an srun that only
# drops its options
mkdir stub
printf '#!/bin/sh\nwhile [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n' >stub/srun
chmod +x stub/srun
SLURM_NTASKS=1 INNERLOOP_SHARE=$p/share/innerloop PATH=$p/bin:$PWD/stub:$PATH \
    bash "$p/share/innerloop/jobs/train.sbatch" run.ini --set train.global_batch=4 --set train.micro_batch=4 \
    --set train.max_steps=4 --set optim.warmup_steps=1 --set eval.interval=0 --set trace.interval=0 \
    --set run.name=job >job.out 2>&1 || die "the installed train.sbatch failed: $(tail -3 job.out)"
[ -s runs/job/metrics.jsonl ] || die "train.sbatch trained nothing: $(tail -3 job.out)"
printf '[sweep]\nname = inst\n[fixed]\ndata.train_path = data/train.bin\ndata.val_path = data/val.bin\n[grid]\ntrain.seed = 1, 2\n' >spec.ini
"$p/bin/il-sweep" submit spec.ini --dry-run --out sw >sweep.out 2>&1 ||
    die "installed il-sweep submit --dry-run failed: $(tail -3 sweep.out)"
grep -q '^# ---- sweep-task.sbatch ----' sweep.out || die "il-sweep printed no job template: $(head -3 sweep.out)"

# a program of one's own against the installed headers and library: a variable, or a config key of the run
cat >prog.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <innerloop/reader.h>
#include <innerloop/schema.h>
#include <innerloop/version.h>

int main(int argc, char **argv)
{
    il_file_t *f;
    il_dims_t d;
    double *v;
    char value[256];
    if (argc != 3 || il_open(argv[1], &f)) goto fail;
    if (strchr(argv[2], '.')) { /* a config key: the run's value */
        if (il_config(f, argv[2], value, sizeof value)) goto fail;
        printf("%s\n", value);
        il_close(f);
        return 0;
    }
    if (il_var(f, argv[2], &d, &v)) goto fail;
    fprintf(stderr, "innerloop %s (schema %d): %s has %zu values over %s\n", il_version(), TRACE_SCHEMA_VERSION,
            argv[2], d.n, d.name[0]);
    for (size_t i = 0; i < d.n; i++) printf("%.9g\n", v[i]);
    free(v);
    il_close(f);
    return 0;
fail:
    fprintf(stderr, "prog: %s\n", argc == 3 ? il_errmsg() : "usage: prog FILE VARIABLE|SECTION.KEY");
    return 2;
}
C
export PKG_CONFIG_PATH=$p/lib/pkgconfig
# every public header stands alone on the installed include path
for h in "$p"/include/innerloop/*.h; do
    # shellcheck disable=SC2046
    echo "#include <innerloop/${h##*/}>" | cc -std=c11 -Wall -Wextra -fsyntax-only $(pkg-config --cflags innerloop) \
        -x c - 2>cc.out || die "innerloop/${h##*/} does not compile alone: $(head -3 cc.out)"
done
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -o prog prog.c $(pkg-config --cflags --libs innerloop) 2>cc.out ||
    die "prog.c does not compile against pkg-config innerloop: $(head -5 cc.out)"
# VAR's values as ncdump prints them, one a line
ncdump_values() {
    ncdump -v "$2" -p 9,17 "$1" | awk -v v="$2" '/^data:/ { data = 1 } data && $1 == v && $2 == "=" { on = 1; $1 = $2 = "" } on {
        last = /;/; gsub(/[ ;]/, ""); n = split($0, a, ","); for (i = 1; i <= n; i++) if (a[i] != "") print a[i]
        if (last) on = 0 }'
}
for fv in "$trace norm" "$trace step" "out/summary.nc n_step" "out/summary.nc norm"; do
    set -- $fv
    ./prog "$1" "$2" >got.txt 2>prog.err || die "prog $1 $2 failed: $(cat prog.err)"
    ncdump_values "$1" "$2" | sed 's/^NaN$/nan/' >want.txt
    [ -s want.txt ] || die "ncdump shows no $2 in $1"
    diff -q want.txt got.txt >/dev/null || die "prog reads $2 of $1 otherwise than ncdump: $(diff want.txt got.txt | head -4)"
done
grep -q "innerloop $(sed -n 's/^#define IL_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' "$root/include/innerloop/version.h" |
    paste -sd.) (schema" prog.err || die "prog reports another version: $(cat prog.err)"
[ "$(./prog $trace model.d_model)" = 16 ] && [ "$(./prog $trace train.max_steps)" = 20 ] ||
    die "prog reads the config of $trace as $(./prog $trace model.d_model 2>&1), not 16"
rc=0
./prog run.ini norm >/dev/null 2>prog.err || rc=$?
[ $rc -eq 2 ] && grep -q '^prog: run.ini: ' prog.err || die "prog on a text file: exit $rc, $(cat prog.err)"
head -c 4000 $trace >cut.nc
rc=0
./prog cut.nc norm >/dev/null 2>prog.err || rc=$?
[ $rc -eq 2 ] && grep -q '^prog: cut.nc: .*truncated' prog.err || die "prog on a cut trace: exit $rc, $(cat prog.err)"

touch "$p/bin/mine"
make -C "$root" --no-print-directory BUILD="$BUILD" PREFIX="$p" uninstall >uninstall.out 2>&1 ||
    die "make uninstall failed: $(tail -5 uninstall.out)"
left=$(cd "$p" && find . -type f ! -path ./bin/mine)
[ -z "$left" ] || die "make uninstall left: $left"
[ -e "$p/bin/mine" ] || die "make uninstall removed a file it had not installed"
[ ! -e "$p/share/innerloop" ] || die "make uninstall left share/innerloop"
