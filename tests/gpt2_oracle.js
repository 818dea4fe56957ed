// The oracle of tests/t_gpt2.sh and scripts/bench-prepare.sh: npm's gpt-3-encoder, whose encode() is
// GPT-2's encoder in JavaScript. Usage: node gpt2_oracle.js ENCODER_JS FILE... prints one line per FILE,
// its ids separated by spaces (files are read as UTF-8, as the oracle takes JavaScript strings), the way
// il-tokenize prints them; with --count, only the total number of ids (the benchmark's use).
'use strict';
const fs = require('fs');
const args = process.argv.slice(2);
const count = args[0] === '--count';
if (count) args.shift();
const { encode } = require(fs.realpathSync(args[0]));
let total = 0;
const out = [];
for (const file of args.slice(1)) {
    const ids = encode(fs.readFileSync(file, 'utf-8'));
    total += ids.length;
    if (!count) out.push(ids.join(' '));
}
process.stdout.write(count ? `${total}\n` : out.map((l) => l + '\n').join(''));
