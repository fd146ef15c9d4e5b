#!/usr/bin/env node
// The `imagegate` command (package.json "bin", so `npx imagegate …` works). Plain JavaScript, and
// src/main.ts is imported only after the check, so an older Node prints which Node to use instead
// of failing on the TypeScript.
import { nodeVersionProblem } from '../scripts/node-version.mjs';

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(problem);
  process.exit(1);
}
await import('../src/main.ts');
