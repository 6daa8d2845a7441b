// Prints the node_modules paths (relative to the working directory) of the runtime dependency closure of the named
// packages: dependencies, optional and peer dependencies that are installed. test/gpu-pack.sh packs vitest this way.
const fs = require("fs"), path = require("path");
const root = process.cwd();
const seen = new Set();
function dirOf(name, from) {
  let d = from;
  for (;;) {
    const c = path.join(d, "node_modules", name);
    if (fs.existsSync(path.join(c, "package.json"))) return fs.realpathSync(c) === c ? c : c;
    const up = path.dirname(d);
    if (up === d) return null;
    d = up;
  }
}
function walk(name, from) {
  const d = dirOf(name, from);
  if (!d || seen.has(d)) return;
  seen.add(d);
  const pj = JSON.parse(fs.readFileSync(path.join(d, "package.json"), "utf8"));
  for (const dep of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies, ...pj.peerDependencies })) walk(dep, d);
}
for (const n of process.argv.slice(2)) walk(n, root);
for (const d of [...seen].sort()) console.log(path.relative(root, d));
