#!/usr/bin/env bash
# Tool-level test of scripts/results-pretrained.sh (make results-pretrained): two tiny GPT-2 models in Hugging
# Face's layout (tests/hf_gpt2.py, on byte tokens: GPT-2's 50,257 tokens are too many for a tiny fixture, so
# DATA points the script at a byte data set instead of data/brown-gpt2) are imported, probed on 2 ranks and
# aggregated: runs.csv has both, each with the parameter count of its config (worked out here from GPT-2's
# shapes) and the tokenizer; launches.jsonl the sha256 of each model's weights; claims.md is written, with
# "model" in place of seeds and each model's source in its context block. An
# existing OUT is refused and kept, a dead run's temporary directory cleared; bad MODELS are one line and exit 2, before any work.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_pretrained
script=$root/scripts/results-pretrained.sh
for i in 1 2 3 4; do (echo "The quick brown fox ($i)"; seq 300); done >doc.txt
"$bin/il-prepare" --out bytes --tokenizer byte doc.txt >/dev/null
python3 "$here/hf_gpt2.py" write one --V 256 --L 1 --random
python3 "$here/hf_gpt2.py" write two --V 256 --L 2 --random
# what a dead run of the script left (its pid gone) is cleared
true & dead=$!
wait
mkdir -p "res.part.$dead/runs" && echo junk >"res.part.$dead/probe.log"
MODELS="one $tmp/two" DATA=bytes OUT=res "$script" "$bin" >run.out 2>&1 || die "the script failed: $(cat run.out)"
grep -q "claims in res/aggregate/claims.md" run.out || die "the script does not say where claims.md is: $(cat run.out)"
[ -s res/aggregate/claims.md ] || die "no claims.md: $(ls -R res)"
[ -z "$(ls -d res.part.* 2>/dev/null)" ] || die "a temporary directory is left, or a dead run's: $(ls)"

# GPT-2's parameters with tied embeddings: wte V*C, wpe T*C, per block 12*C*C + 13*C, the final norm 2*C
params() { local V=256 T=16 C=8 L=$1; echo $((V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C)); }
csv=res/aggregate/runs.csv
col() { awk -F, -v run="$1" -v key="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                                         $c["run"] == run { print $c[key] }' "$csv"; }
[ "$(tail -n +2 "$csv" | wc -l)" -eq 2 ] || die "runs.csv is not the two models: $(cat "$csv")"
for m in one:1 two:2; do
    run=${m%:*}
    [ "$(col "$run" n_params)" = "$(params "${m#*:}")" ] && [ "$(col "$run" tokenizer)" = byte ] ||
        die "runs.csv: $run has not $(params "${m#*:}") parameters and the byte tokenizer: $(cat "$csv")"
    sha=$(sha256sum "$run/model.safetensors" | cut -d' ' -f1)
    grep -q "\"source\":\"huggingface [^\"]*/$run/model.safetensors sha256 $sha\"" "res/runs/$run/launches.jsonl" ||
        die "res/runs/$run/launches.jsonl lacks the weights' sha256 $sha: $(cat "res/runs/$run/launches.jsonl")"
done

# claims.md: models trained elsewhere have no seeds, the model is the unit of replication, and the context
# names where each model's weights came from.
md=res/aggregate/claims.md
grep -q "2 configurations, no seeds: the unit of replication is the model" $md &&
    grep -q "2 models with the statistic; at least 3 are needed" $md && grep -q "| model | parameters | weights from |" $md ||
    die "claims.md does not count models in place of seeds: $(sed -n '/## Context/,/## How/p' $md)"
for run in one two; do
    sha=$(sha256sum "$run/model.safetensors" | cut -d' ' -f1)
    grep -q "^- Trained elsewhere, on other data, and only measured here (il-probe); their weights came from: .*$run (huggingface [^)]*$run/model.safetensors sha256 $sha)" $md ||
        die "claims.md does not say where $run came from: $(sed -n '/## Context/,/## How/p' $md)"
done

# Never over an existing OUT; bad input is one line, exit 2, and nothing made.
run_bad() { # NEEDLE MODELS [OUT]
    local rc=0
    MODELS=$2 DATA=bytes OUT=${3:-bad} "$script" "$bin" >out.txt 2>err.txt || rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q "^results-pretrained: .*$1" err.txt ||
        die "MODELS='$2': expected one line naming '$1' and exit 2, got $rc: $(cat err.txt)"
    [ ! -e bad ] && [ -z "$(ls -d "${3:-bad}".part.* 2>/dev/null)" ] || die "a refused run left output"
}
sum=$(find res -type f | sort | xargs sha256sum)
run_bad "res: already exists" "one two" res
[ "$(find res -type f | sort | xargs sha256sum)" = "$sum" ] || die "the refused run changed res"
run_bad "MODELS is empty" ""
mkdir nocfg && cp one/model.safetensors nocfg/
run_bad "nocfg/config.json: no such file" "one nocfg"
mkdir noweights && cp one/config.json noweights/
run_bad "noweights/model.safetensors: no such file" "noweights"
run_bad "a second model named one" "one $tmp/one"
echo "$name: ok"
