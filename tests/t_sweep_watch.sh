#!/usr/bin/env bash
# il-sweep status --watch in a terminal: tmux runs it in a detached session of 60 x 6 on a sweep whose
# Slurm is a stub (squeue prints what queue.txt says) and whose runs' metrics.jsonl are written here. The
# screen must fit the width, cut the list with "... N more", show each run's loss with a sparkline of its
# trend, change when a run finishes, and the watch must end by itself once every run has ended, or on
# Ctrl-C, with the cursor shown again; without a UTF-8 locale the sparkline is ASCII.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_sweep_watch
command -v tmux >/dev/null || die "tmux is missing (make deps)"

export STUB=$tmp/stub
mkdir -p "$STUB"
cat >"$STUB/sbatch" <<'SH'
#!/usr/bin/env bash
id=$(($(cat "$STUB/count" 2>/dev/null || echo 100) + 1))
echo "$id" >"$STUB/count"
echo "$id"
SH
printf '#!/bin/sh\ncat "$STUB/queue.txt"\n' >"$STUB/squeue"
printf '#!/bin/sh\nexit 1\n' >"$STUB/sacct"
chmod +x "$STUB"/*
export PATH=$STUB:$PATH
: >"$STUB/queue.txt"

tiny_corpus --tokenizer byte
printf '[sweep]\nname = w\n[fixed]\n%s\ntrain.max_steps = 80\noptim.warmup_steps = 5\n[grid]\ntrain.seed = 1, 2, 3, 4\n' \
    "$(tiny_ini | awk -F' = ' '/^\[/ { s = substr($0, 2, length($0) - 2); next } { print s "." $0 }')" >w.ini
"$bin/il-sweep" submit w.ini --out sw >/dev/null
mapfile -t runs < <(awk -F'\t' 'NR > 1 { print $2 }' sw/manifest.tsv)
[ ${#runs[@]} -eq 4 ] || die "expected 4 runs: ${runs[*]}"
# run 0 done, runs 1 to 3 running; runs 0 and 1 with 40 steps of a falling then rising loss
for r in "${runs[@]}"; do mkdir -p "sw/runs/$r"; done
for i in 0 1; do
    for s in $(seq 1 40); do
        printf '{"kind":"train","step":%d,"loss":%s,"lr":0.001,"grad_norm":1,"tokens_per_s":500,"step_ms":3}\n' \
            "$s" "$(awk -v s="$s" 'BEGIN { print (s - 25) ^ 2 / 100 + 3 }')"
    done >"sw/runs/${runs[$i]}/metrics.jsonl"
done
echo 0 >"sw/runs/${runs[0]}/exit_code"
printf '101_%d|RUNNING|None|0:10|10:00|n1|0\n' 1 2 3 >"$STUB/queue.txt"
# the sparkline as docs/sweeps.md defines it: the last records averaged up to 8 to a point, at most 16
# points, each mean in one of 8 levels from the lowest to the highest
sparkline() {
    /usr/bin/python3 - "$1" <<'PY'
import json, math, sys
loss = [json.loads(l)["loss"] for l in open(sys.argv[1])]
n = len(loss)
per = min(8, max(1, math.ceil(n / 16)))
points = min(16, math.ceil(n / per))
start = n - points * per
means = []
for p in range(points):
    xs = [loss[j] for j in range(start + p * per, start + (p + 1) * per) if j >= 0]
    means.append(sum(xs) / len(xs))
lo, hi = min(means), max(means)
print("".join("▁▂▃▄▅▆▇█"[int(math.floor((m - lo) / (hi - lo) * 7 + 0.5))] for m in means))
PY
}
spark=$(sparkline "sw/runs/${runs[0]}/metrics.jsonl")

W=60 H=6
sock=$tmp/tmux.sock
tm() { tmux -S "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null || true; rm -rf "$tmp"' EXIT
# wait_screen NEEDLE: until the screen shows NEEDLE (5 s at most); the screen into screen.txt
wait_screen() {
    for _ in $(seq 50); do
        tm capture-pane -p -t w >screen.txt
        grep -qF -- "$1" screen.txt && return 0
        sleep 0.1
    done
    die "the screen never showed '$1': $(cat screen.txt)"
}
tm new-session -d -s w -x $W -y $H \
    "env PATH='$PATH' STUB='$STUB' LANG=C.UTF-8 '$bin/il-sweep' status sw --watch 0.3; echo \"exit \$?\" >watch.rc; sleep 60"
wait_screen "# 4 run(s)"
/usr/bin/python3 - "$W" screen.txt <<'PY' || die "the screen does not fit $W columns: $(cat screen.txt)"
import sys
w = int(sys.argv[1])
sys.exit(any(len(l.rstrip("\n")) > w - 1 for l in open(sys.argv[2], encoding="utf-8")))
PY
grep -q '^idx *state *step *loss *trend' screen.txt || die "no header: $(cat screen.txt)"
grep -q '^il-sweep status sw: ' screen.txt || die "no title line: $(cat screen.txt)"
grep -q "^0 *done *40/80 *5.250 *$spark " screen.txt || die "run 0's row lacks its loss or the sparkline $spark: $(cat screen.txt)"
grep -q '^1 *running' screen.txt || die "run 1 is not running: $(cat screen.txt)"
grep -q '^\.\.\. 2 more' screen.txt || die "no '... 2 more' on a screen of $H lines: $(cat screen.txt)"
[ "$(tm display -p -t w '#{cursor_flag}')" = 0 ] || die "the cursor is shown while watching"
[ ! -e watch.rc ] || die "the watch ended while runs were running: $(cat watch.rc)"

# run 1 trains on: 40 more records of a falling loss redraw its sparkline
for s in $(seq 41 80); do
    printf '{"kind":"train","step":%d,"loss":%s,"lr":0.001,"grad_norm":1,"tokens_per_s":500,"step_ms":3}\n' \
        "$s" "$(awk -v s="$s" 'BEGIN { print 2 + (80 - s) / 40 }')"
done >>"sw/runs/${runs[1]}/metrics.jsonl"
spark1=$(sparkline "sw/runs/${runs[1]}/metrics.jsonl")
[ "$spark1" != "$spark" ] || die "the test's records do not change the sparkline"
wait_screen " $spark1 "
grep -q "^1 *running *80/80 *2.000 *$spark1 " screen.txt || die "run 1's new records are not shown: $(cat screen.txt)"

# run 1 finishes: the screen says so; then every run has ended, and the watch ends by itself
echo 0 >"sw/runs/${runs[1]}/exit_code"
printf '101_%d|RUNNING|None|0:10|10:00|n1|0\n' 2 3 >"$STUB/queue.txt"
wait_screen "2 running"
grep -q '^1 *done' screen.txt || die "run 1's end is not shown: $(cat screen.txt)"
echo 1 >"sw/runs/${runs[2]}/exit_code"
echo 1 >"sw/runs/${runs[3]}/exit_code"
: >"$STUB/queue.txt"
wait_screen "all have ended"
for _ in $(seq 30); do [ -e watch.rc ] && break; sleep 0.1; done
[ "$(cat watch.rc 2>/dev/null)" = "exit 0" ] || die "the watch did not end with 0 once every run had ended"
[ "$(tm display -p -t w '#{cursor_flag}')" = 1 ] || die "the cursor is not shown again"
tm kill-session -t w

# Ctrl-C ends a watch at once, with the cursor shown again
rm -f "sw/runs/${runs[3]}/exit_code" watch.rc
printf '101_3|RUNNING|None|0:10|10:00|n1|0\n' >"$STUB/queue.txt"
tm new-session -d -s c -x $W -y 20 \
    "env PATH='$PATH' STUB='$STUB' LANG=C.UTF-8 '$bin/il-sweep' status sw --watch 5; echo \"exit \$?\" >watch.rc; sleep 60"
tm capture-pane -p -t c >/dev/null
for _ in $(seq 50); do tm capture-pane -p -t c | grep -q '# 4 run' && break; sleep 0.1; done
tm send-keys -t c C-c
for _ in $(seq 30); do [ -e watch.rc ] && break; sleep 0.1; done
[ "$(cat watch.rc 2>/dev/null)" = "exit 0" ] || die "Ctrl-C did not end the watch cleanly"
[ "$(tm display -p -t c '#{cursor_flag}')" = 1 ] || die "the cursor is not shown again after Ctrl-C"

# without a UTF-8 locale, an ASCII sparkline (one frame: every run has ended)
echo 1 >"sw/runs/${runs[3]}/exit_code"
: >"$STUB/queue.txt"
LANG=C LC_ALL=C COLUMNS=100 LINES=20 "$bin/il-sweep" status sw --watch >ascii.txt
ascii=$(echo "$spark" | sed 's/▁/_/g; s/▂/./g; s/▃/-/g; s/▄/~/g; s/▅/=/g; s/▆/+/g; s/▇/*/g; s/█/#/g')
grep '^0 *done ' ascii.txt | grep -qF -- "5.250 $ascii " || die "no ASCII sparkline: $(cat ascii.txt)"
! LC_ALL=C grep -q $'[\x80-\xff]' ascii.txt || die "bytes that are not ASCII without a UTF-8 locale"
expect_fail "il-sweep status" "--watch" "$bin/il-sweep" status sw --watch --format json
expect_fail "il-sweep status" "--watch" "$bin/il-sweep" status sw --watch=0
echo "$name: ok"
