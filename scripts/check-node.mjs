// Runs before `npm test`: the project needs Node 24, which the `node` npm package pins in
// node_modules/.bin (npm scripts put it first on PATH).
import { nodeVersionProblem } from './node-version.mjs';

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(problem);
  process.exit(1);
}
