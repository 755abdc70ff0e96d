// The wasm side of `cargo xtask bench remux` (written out and run by xtask).
//
// usage: node wasm.cjs FILE CHUNK_BYTES WARMUP RUNS
// (next to caudal_bench_remux.js, the wasm-bindgen output for node)
//
// Feeds the file to the wasm `Remuxer` the way the player feeds it: one
// chunk per call across the JS/wasm boundary (the bytes are copied into wasm
// memory), each output taken back into its own Uint8Array. The file is read
// before the clock starts, so disk reads are not in the number, and WARMUP
// untimed runs let V8 tier the module up first. Prints one JSON line; xtask
// takes the best of RUNS.
'use strict';

const fs = require('node:fs');

const { Remuxer, memoryBytes } = require('./caudal_bench_remux.js');

const [file, chunkArg, warmupArg, runsArg] = process.argv.slice(2);
const data = fs.readFileSync(file);
const chunk = Number(chunkArg);
const warmup = Number(warmupArg);
const runs = Number(runsArg);

const seconds = [];
let fragments = 0;
let outputBytes = 0;
let initBytes = 0;
for (let run = 0; run < warmup + runs; run++) {
  const started = process.hrtime.bigint();
  const remuxer = new Remuxer(data.length);
  let outputs = 0;
  let bytes = 0;
  let init = 0;
  for (let offset = 0; offset < data.length; offset += chunk) {
    remuxer.feed(offset, data.subarray(offset, Math.min(offset + chunk, data.length)));
    for (let out = remuxer.nextOutput(); out !== undefined; out = remuxer.nextOutput()) {
      if (outputs === 0) init = out.byteLength;
      outputs++;
      bytes += out.byteLength;
    }
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  if (!remuxer.finished) throw new Error(`the run ended after ${remuxer.fragments} fragments`);
  fragments = remuxer.fragments;
  outputBytes = bytes;
  initBytes = init;
  remuxer.free();
  if (run >= warmup) seconds.push(elapsed);
}

console.log(JSON.stringify({
  seconds,
  fragments,
  output_bytes: outputBytes,
  init_bytes: initBytes,
  memory_bytes: memoryBytes(),
}));
