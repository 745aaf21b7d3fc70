// SPDX-License-Identifier: MIT
// The Node side of make bench-runtimes / test-runtimes: after a start-up phase
// (a sleep, as in FirstRound.java), one first round makes ARRAYS
// Float64Arrays of LEN elements (their buffers come from calloc) and OBJECTS
// small objects (V8's own heap), all kept alive. stdout: the checksum
// (deterministic); stderr: one JSON line with the round's time and the minor
// page faults during the round: "faults", the program's (every thread's but
// faultless's own), and "faults_all", the process's (as FirstRound.java).
//   node first_round.mjs [SETUP_MS=300] [ARRAYS=40] [LEN=1048576] [OBJECTS=1000000]
import { readdirSync, readFileSync } from 'node:fs';

const setupMs = Number(process.argv[2] ?? 300);
const arrays = Number(process.argv[3] ?? 40);
const len = Number(process.argv[4] ?? 1024 * 1024);
const objects = Number(process.argv[5] ?? 1_000_000);

// Minor faults (field 10 of a /proc stat file) of the process (key -1) and
// of each thread of faultless's own (its name starts with "faultless"): a
// warmer's populate counts as its faults, not the program's. The fields are
// counted after the name's closing parenthesis, since a name may hold spaces.
function field10(path, onlyFaultless) {
  const s = readFileSync(path, 'latin1');
  const close = s.lastIndexOf(')');
  if (onlyFaultless && !s.slice(s.indexOf('(') + 1, close).startsWith('faultless')) return -1;
  return Number(s.slice(close + 2).split(' ')[10 - 3]);
}

function minorFaults() {
  const m = new Map([[-1, field10('/proc/self/stat', false)]]);
  for (const t of readdirSync('/proc/self/task')) {
    let f;
    try {
      f = field10(`/proc/self/task/${t}/stat`, true);
    } catch {
      continue; // the thread ended meanwhile
    }
    if (f >= 0) m.set(Number(t), f);
  }
  return m;
}

// [program's, process's] faults between two readings: the process's less what
// faultless's threads took meanwhile (one started since: all of its).
function faultsBetween(a, b) {
  const all = b.get(-1) - a.get(-1);
  let own = 0;
  for (const [k, v] of b) if (k >= 0) own += v - (a.get(k) ?? 0);
  return [all - own, all];
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
const faults = faultsBetween(f0, minorFaults());
// Exact: every partial sum is a multiple of 0.25 far below 2^50.
let sum = 0;
for (const a of data) for (let j = 0; j < a.length; j++) sum += a[j];
let osum = 0;
for (const o of objs) osum += o.id + o.x + o.tag;
console.log(`node first round: ${arrays} Float64Arrays of ${len}, ${objects} objects, ` +
            `checksum ${sum.toFixed(2)} ${osum.toFixed(2)}`);
console.error(JSON.stringify({ program: 'node', round_ms: Number(t1 - t0) / 1e6, faults: faults[0],
                              faults_all: faults[1] }));
