// SPDX-License-Identifier: MIT
// Node.js + Apache Arrow: build a table of a few million rows from typed
// arrays, serialize it to IPC (stream format) and read it back; print
// checksums on stdout. Deterministic, so the output with and without faultless
// must be identical. Timings go to stderr (one JSON line) for the benchmark.
//   node arrow.mjs [ROWS=3000000] [ROUNDS=1] [SETUP_MS=0]
import { tableFromArrays, tableToIPC, tableFromIPC } from 'apache-arrow';

const rows = Number(process.argv[2] || 3_000_000);
const rounds = Number(process.argv[3] || 1);
const setupMs = Number(process.argv[4] || 0);

function round(r) {
  // Columns from typed arrays (fresh buffers each round), filled with a cheap
  // deterministic generator.
  const id = new Int32Array(rows);
  const price = new Float64Array(rows);
  const qty = new Uint16Array(rows);
  const cat = new Int8Array(rows);
  let s = (0x9e3779b9 ^ r) >>> 0;
  for (let i = 0; i < rows; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    id[i] = i;
    price[i] = (s % 100000) / 100;
    qty[i] = s >>> 20;
    cat[i] = s & 15;
  }
  const table = tableFromArrays({ id, price, qty, cat });
  const ipc = tableToIPC(table, 'stream');
  const back = tableFromIPC(ipc);
  let sumPrice = 0, sumQty = 0, sumId = 0, catHist = new Array(16).fill(0);
  const cp = back.getChild('price'), cq = back.getChild('qty');
  const ci = back.getChild('id'), cc = back.getChild('cat');
  for (const chunk of cp.data) for (const v of chunk.values) sumPrice += v;
  for (const chunk of cq.data) for (const v of chunk.values) sumQty += v;
  for (const chunk of ci.data) for (const v of chunk.values) sumId += v;
  for (const chunk of cc.data) for (const v of chunk.values) catHist[v]++;
  return `round ${r}: rows ${back.numRows} ipc ${ipc.byteLength} bytes ` +
         `sum(id) ${sumId} sum(price) ${sumPrice.toFixed(2)} sum(qty) ${sumQty} ` +
         `cat ${catHist.join(',')}`;
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
await sleep(setupMs);  // start-up: a cloud function waits on the network here
const times = [];
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint();
  const line = round(r);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  console.log(line);
}
console.error(JSON.stringify({ workload: 'node-arrow', rows, rounds_ms: times }));
