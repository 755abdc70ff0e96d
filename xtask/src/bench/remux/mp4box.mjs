// The mp4box.js side of `cargo xtask bench remux` (written out and run by xtask).
//
// usage: node mp4box.mjs FILE CHUNK_BYTES WARMUP RUNS
// (next to the node_modules where xtask installed the pinned mp4box)
//
// The job the wasm side does, done the way mp4box.js documents it for MSE:
// appendBuffer() each chunk (a fresh ArrayBuffer with its fileStart, as a
// fetch delivers it); onReady -> setSegmentOptions for every track ->
// initializeSegmentation() -> start(); flush() after the last chunk. Each
// segment is counted in onSegment and its samples released
// (releaseUsedSamples, as mp4box.js's own player demo does), so mp4box.js
// too holds only what is in flight.
//
// mp4box.js 2.x wants the same nbSamples on every track: we give it the
// samples per second of the densest track (audio), so no segment is shorter
// than about a second; video segments end at the first key frame after
// that. Fewer, larger segments are the cheaper choice for mp4box.js.
//
// The chunks are cut before the clock starts, and WARMUP untimed runs let
// V8 optimise first. Prints one JSON line; xtask takes the best of RUNS.

import fs from 'node:fs';
import { createFile } from 'mp4box';

const [file, chunkArg, warmupArg, runsArg] = process.argv.slice(2);
const data = fs.readFileSync(file);
const chunk = Number(chunkArg);
const warmup = Number(warmupArg);
const runs = Number(runsArg);

function chunks() {
  const out = [];
  for (let offset = 0; offset < data.length; offset += chunk) {
    const end = Math.min(offset + chunk, data.length);
    const buffer = data.buffer.slice(data.byteOffset + offset, data.byteOffset + end);
    buffer.fileStart = offset;
    out.push(buffer);
  }
  return out;
}

function runOnce(buffers) {
  let segments = 0;
  let bytes = 0;
  let initBytes = 0;
  const tracks = new Set();
  const done = new Set();
  let error;
  // keepMdatData = true: without it mp4box.js 2.x discards the samples and
  // segments nothing.
  const file = createFile(true);
  file.onError = (module, message) => {
    error = new Error(`mp4box.js: ${module}: ${message}`);
  };
  file.onReady = (info) => {
    const perSecond = info.tracks.map((track) => {
      const seconds = track.duration / track.timescale;
      return seconds > 0 ? track.nb_samples / seconds : track.nb_samples;
    });
    const nbSamples = Math.max(1, Math.round(Math.max(...perSecond)));
    for (const track of info.tracks) {
      file.setSegmentOptions(track.id, null, { nbSamples });
      tracks.add(track.id);
    }
    const init = file.initializeSegmentation();
    initBytes = init.buffer.byteLength;
    bytes += initBytes;
    file.start();
  };
  file.onSegment = (id, user, buffer, sampleNumber, last) => {
    segments++;
    bytes += buffer.byteLength;
    file.releaseUsedSamples(id, sampleNumber);
    if (last) done.add(id);
  };
  for (const buffer of buffers) file.appendBuffer(buffer);
  file.flush();
  if (error) throw error;
  if (tracks.size === 0 || done.size !== tracks.size) {
    throw new Error(`mp4box.js finished ${done.size} of ${tracks.size} tracks`);
  }
  return { segments, bytes, initBytes, tracks: tracks.size };
}

const seconds = [];
let result;
for (let run = 0; run < warmup + runs; run++) {
  const buffers = chunks();
  const started = process.hrtime.bigint();
  result = runOnce(buffers);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  if (run >= warmup) seconds.push(elapsed);
}

console.log(JSON.stringify({
  seconds,
  fragments: result.segments,
  output_bytes: result.bytes,
  init_bytes: result.initBytes,
  tracks: result.tracks,
}));
