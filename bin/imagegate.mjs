#!/usr/bin/env -S node --max-semi-space-size=8
// The `imagegate` command (package.json "bin", so `npx imagegate …` and `npm start` work). Plain
// JavaScript, and src/main.ts is imported only after the check, so an older Node prints which Node
// to use instead of failing on the TypeScript.
//
// --max-semi-space-size=8 (MiB): Node 24 lets V8's young generation grow to 64 MiB per semi-space,
// which a gateway moving megabytes of images per request fills and keeps resident (134 MB at
// idle). 8 MiB is what short-lived request objects need; with image bytes kept outside the heap
// (http/body-reads.ts), it costs no measurable CPU and halves idle memory (README, Performance).
// The flag is in the shebang so every way of starting it gets it; `node bin/imagegate.mjs`
// without it works too, with Node's default. Cluster workers inherit it.
import { nodeVersionProblem } from '../scripts/node-version.mjs';

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(problem);
  process.exit(1);
}
await import('../src/main.ts');
