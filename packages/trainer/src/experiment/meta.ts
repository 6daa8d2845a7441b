// What the results document records about where it was made: the machine and whether the checkout was clean.

import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { MachineInfo } from "./markdown.js";

/** CPU model, cores, memory, Node version and platform of this machine. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim().replace(/\s+/g, " ") || "unknown CPU",
    cores: list.length,
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** Whether the trainer's git checkout has uncommitted changes to tracked files (false outside a checkout). */
export function gitDirty(): boolean {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    return execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: here, stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).toString().trim().length > 0;
  } catch {
    return false;
  }
}
