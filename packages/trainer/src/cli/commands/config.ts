// `seekr config`: prints the resolved configuration (defaults + file + overrides) as YAML or JSON.

import { describeConfig } from "../../config/index.js";
import type { Override } from "../argv.js";
import { type ConfigFlags, resolveCliConfig } from "../config.js";
import type { CliIO } from "../main.js";

export function commandConfig(flags: ConfigFlags & { json?: boolean }, overrides: readonly Override[], io: Pick<CliIO, "stdout" | "cwd">): number {
  const { config, extras } = resolveCliConfig(flags, overrides, io.cwd);
  if (flags.json) {
    io.stdout.write(`${JSON.stringify(extras ? { ...config, extras } : config, null, 2)}\n`);
  } else {
    io.stdout.write(describeConfig(config));
    if (extras) io.stdout.write(`# trainer extras (outside the config schema)\nextras: ${JSON.stringify(extras)}\n`);
  }
  return 0;
}
