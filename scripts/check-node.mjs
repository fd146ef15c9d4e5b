// Runs before `npm start` and `npm test`: the project needs Node 24, which the `node` npm package
// pins in node_modules/.bin (npm scripts put it first on PATH). Plain JavaScript so that an older
// Node can still print this message instead of failing on TypeScript syntax.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `imagegate needs Node 24 or newer, but this is Node ${process.versions.node}.\n` +
      'Run it through npm (npm start, npm test), which uses the Node 24 that `npm install` put in node_modules.\n',
  );
  process.exit(1);
}
