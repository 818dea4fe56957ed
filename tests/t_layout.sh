#!/usr/bin/env bash
# The layout: one include root. Every `#include "..."` names its file from the repository's top (analysis/,
# tests/) or from src/ or include/, where exactly one such file exists, so that the line says where the
# file is. The public headers (include/innerloop/) include no private one, and analysis/ reaches <mpi.h>
# only where its MPI driver includes core/dist.h itself: the aggregation's reader and tables stand apart
# from the trainer's MPI state.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_layout
cd "$root"

[ ! -e sweep ] || die "a top-level sweep/ beside src/"
# the top level is the design's: src, include, jobs, analysis, tests, Makefile, README.md, docs, scripts
top=$(cd "$root" && git ls-files 2>/dev/null | cut -d/ -f1 | LC_ALL=C sort -u | grep -v '^\.' | tr '\n' ' ')
[ -z "$top" ] || [ "$top" = "Makefile README.md analysis docs include jobs scripts src tests " ] ||
    die "the top level holds $top(expected: Makefile README.md analysis docs include jobs scripts src tests)"
bad=""
while IFS=: read -r file line inc; do
    n=0
    for dir in include src .; do [ -f "$dir/$inc" ] && n=$((n + 1)); done
    [ $n -eq 1 ] || bad+=" $file:$line: \"$inc\" is found under $n of include/, src/ and the top;"
    case $file:$inc in
    include/*:innerloop/*) ;;
    include/*) bad+=" $file:$line: a public header includes the private \"$inc\";" ;;
    esac
done < <(git grep -n '^#include "' -- '*.c' '*.h' | sed 's/^\([^:]*\):\([0-9]*\):#include "\([^"]*\)".*/\1:\2:\3/')
[ -z "$bad" ] || die "$bad"

# MPI in analysis/: only core/dist.h, the project's MPI layer, included by the driver itself; no header
# reached from analysis/ brings <mpi.h> along (as trace/tracer.h or run/trainer.h would)
for f in analysis/*.c analysis/*.h; do
    deps=$(mpicc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -I. -MG -M "$f" |
        tr ' \\' '\n\n' | grep -E '^(include|src|analysis|tests)/.*\.h$' || true)
    for h in $deps; do
        if [ "$h" = src/core/dist.h ]; then
            grep -q '^#include "core/dist.h"' "$f" || die "$f reaches core/dist.h (<mpi.h>) through another header"
        elif grep -q '^#include <mpi.h>' "$h"; then
            die "$f includes $h, which includes <mpi.h>"
        fi
    done
done
