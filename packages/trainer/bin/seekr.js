#!/usr/bin/env node
// The `seekr` command: runs the CLI built into dist/ (npm run build) and exits with its code.

let cli;
try {
  cli = await import("../dist/cli/index.js");
} catch (err) {
  if (err && err.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist")) {
    process.stderr.write("seekr: @seekr/trainer is not built (dist/ is missing); run `npm run build` in the repository first\n");
    process.exit(1);
  }
  throw err;
}
process.exitCode = await cli.main(process.argv.slice(2));
