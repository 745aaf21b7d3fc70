// SPDX-License-Identifier: MIT
// The Node.js test function: an apache-arrow table of `rows` rows (id = i,
// v = (i % 1000) / 4) through IPC and back, summed; the test checks the sums
// against their formulas. It reports what its process has loaded:
// libfaultless.so and the marker library the function preloads itself.
import { readFileSync } from 'node:fs';
import { tableFromArrays, tableToIPC, tableFromIPC } from 'apache-arrow';

export const handler = async (event, context) => {
  if (event.throw) throw new Error(event.throw);
  const rows = event.rows ?? 1000000;
  const id = new Int32Array(rows);
  const v = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    id[i] = i;
    v[i] = (i % 1000) / 4;
  }
  const back = tableFromIPC(tableToIPC(tableFromArrays({ id, v }), 'stream'));
  let sumId = 0, sumV = 0;
  for (const chunk of back.getChild('id').data) for (const x of chunk.values) sumId += x;
  for (const chunk of back.getChild('v').data) for (const x of chunk.values) sumV += x;
  const maps = readFileSync('/proc/self/maps', 'utf8');
  return {
    request_id: context.awsRequestId, rows: back.numRows, sum_id: sumId, sum_v: sumV,
    faultless: maps.includes('/libfaultless.so'), marker: maps.includes('/liblayer_marker.so'),
    ld_preload: process.env.LD_PRELOAD ?? null, prefault: process.env.FAULTLESS_PREFAULT ?? null,
  };
};
