// The one Node version check, shared by bin/imagegate.mjs and scripts/check-node.mjs. Plain
// JavaScript with nothing newer than ES2017 so that an old Node can still run it and print why it
// cannot run imagegate, instead of failing on TypeScript syntax (ERR_UNKNOWN_FILE_EXTENSION).

/** The oldest Node major imagegate runs on (type stripping without warnings, node:sqlite); "engines" in package.json says the same. */
export const MIN_NODE_MAJOR = 24;

/**
 * Why this Node cannot run imagegate, as a message for stderr, or undefined when it can.
 * @param {string} version a `process.versions.node` such as "20.20.2"
 * @returns {string | undefined}
 */
export function nodeVersionProblem(version) {
  const major = Number(version.split('.')[0]);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return (
    `imagegate needs Node ${MIN_NODE_MAJOR} or newer, but this is Node ${version}.\n` +
    `Run it through npm (npx imagegate …, npm start, npm test), which uses the Node ${MIN_NODE_MAJOR} that \`npm install\` put in node_modules.\n`
  );
}
