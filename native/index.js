// Loads the compiled addon (build/Release/seekr.node) and explains clearly when it is missing.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const candidates = [
  process.env.SEEKR_NATIVE_PATH,
  join(here, "build", "Release", "seekr.node"),
  join(here, "build", "Debug", "seekr.node"),
].filter(Boolean);

let addon;
const found = candidates.find((p) => existsSync(p));
if (!found) {
  throw new Error(
    "@seekr/native: the addon is not built (looked for " + candidates.join(", ") + "). " +
      "Run `npm install` at the repository root, or `npm run build -w @seekr/native`.",
  );
}
try {
  addon = require(found);
} catch (err) {
  throw new Error(`@seekr/native: failed to load ${found}: ${err instanceof Error ? err.message : String(err)}`);
}

export const native = addon;
export const addonPath = found;
export default addon;
