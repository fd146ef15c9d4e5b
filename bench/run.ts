// `npm run bench`: every benchmark, one after another. Figures are ratios to baselines measured in
// the same run (the machine is shared and noisy); see README "Performance".
import { main as gatewayThroughput, holdOpenOnly } from './gateway-throughput.ts';
import { main as localRender } from './local-render.ts';
import { main as soak } from './soak.ts';

const only = process.argv[2];
if (only === undefined || only === 'local') {
  console.log('## local renderer: images/s against sharp encode-only\n');
  await localRender();
}
if (only === undefined || only === 'gateway') {
  console.log('\n## gateway: throughput, CPU and latency against direct and a bare pipe; memory with 1,000 held requests\n');
  await gatewayThroughput();
}
if (only === 'memory') {
  console.log('## gateway memory: 1,000 requests held by a slow upstream, then answered in the same second\n');
  await holdOpenOnly();
}
if (only === undefined || only === 'soak') {
  console.log('\n## fault soak: one channel failing 20% of calls at random; the ledger audited after\n');
  await soak();
}
