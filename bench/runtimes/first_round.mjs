// SPDX-License-Identifier: MIT
// The Node side of make bench-runtimes / test-runtimes: after a start-up phase
// (a sleep, as in FirstRound.java), one first round makes ARRAYS
// Float64Arrays of LEN elements (their buffers come from calloc) and OBJECTS
// small objects (V8's own heap), all kept alive. stdout: the checksum
// (deterministic); stderr: one JSON line with the round's time and the
// process's minor page faults during the round (/proc/self/stat).
//   node first_round.mjs [SETUP_MS=300] [ARRAYS=40] [LEN=1048576] [OBJECTS=1000000]
import { readFileSync } from 'node:fs';

const setupMs = Number(process.argv[2] ?? 300);
const arrays = Number(process.argv[3] ?? 40);
const len = Number(process.argv[4] ?? 1024 * 1024);
const objects = Number(process.argv[5] ?? 1_000_000);

// Field 10 of /proc/self/stat (minflt), counted after the command name's
// closing parenthesis.
function minorFaults() {
  const s = readFileSync('/proc/self/stat', 'latin1');
  return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[10 - 3]);
}

await new Promise((res) => setTimeout(res, setupMs));
minorFaults();
const f0 = minorFaults();
const t0 = process.hrtime.bigint();
const data = [];
for (let i = 0; i < arrays; i++) {
  const a = new Float64Array(len);
  for (let j = 0; j < len; j++) a[j] = ((i * 31 + j) % 1000) * 0.25;
  data.push(a);
}
const objs = [];
for (let i = 0; i < objects; i++) objs.push({ id: i, x: i * 0.5, tag: i & 7 });
const t1 = process.hrtime.bigint();
const f1 = minorFaults();
// Exact: every partial sum is a multiple of 0.25 far below 2^50.
let sum = 0;
for (const a of data) for (let j = 0; j < a.length; j++) sum += a[j];
let osum = 0;
for (const o of objs) osum += o.id + o.x + o.tag;
console.log(`node first round: ${arrays} Float64Arrays of ${len}, ${objects} objects, ` +
            `checksum ${sum.toFixed(2)} ${osum.toFixed(2)}`);
console.error(JSON.stringify({ program: 'node', round_ms: Number(t1 - t0) / 1e6, faults: f1 - f0 }));
