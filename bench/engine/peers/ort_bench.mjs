// ONNX Runtime side of the transformer-engine benchmark (run by bench/engine/peers.sh).
//
//   node ort_bench.mjs MODEL.onnx THREADS SECONDS CASE...
//
// CASE is LENGTHxBATCH.  One session per thread count (intra-op threads =
// THREADS, inter-op 1, sequential execution, all graph optimisations), the
// same token ids as bench_engine.c; prints
// "RESULT ort THREADS LENGTH BATCH BEST_S MEDIAN_S" per case.
import * as ort from 'onnxruntime-node';

const [model, threadsArg, secondsArg, ...cases] = process.argv.slice(2);
const threads = Number(threadsArg);
const seconds = Number(secondsArg);

const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

function feeds(length, batch) {
  const ids = new BigInt64Array(batch * length);
  const mask = new BigInt64Array(batch * length).fill(1n);
  for (let i = 0; i < ids.length; i++) ids[i] = BigInt(1000 + (i * 7919) % 20000);
  return {
    input_ids: new ort.Tensor('int64', ids, [batch, length]),
    attention_mask: new ort.Tensor('int64', mask, [batch, length]),
  };
}

const seconds_since = (t) => Number(process.hrtime.bigint() - t) / 1e9;

for (const c of cases) {
  const [length, batch] = c.split('x').map(Number);
  const input = feeds(length, batch);
  await session.run(input);
  const times = [];
  const start = process.hrtime.bigint();
  while (seconds_since(start) < seconds || times.length < 3) {
    const t = process.hrtime.bigint();
    await session.run(input);
    times.push(seconds_since(t));
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`RESULT ort ${threads} ${length} ${batch} ${times[0].toFixed(6)} ${median.toFixed(6)}`);
}
