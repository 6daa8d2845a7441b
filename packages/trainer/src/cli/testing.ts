// Test helpers for the CLI: captured output streams and an in-process main() with them.

import { EventEmitter } from "node:events";
import { type CliIO, main } from "./main.js";

export interface Captured {
  write(text: string): boolean;
  isTTY: boolean;
  columns?: number;
  readonly text: string;
}

/** A stream that keeps what is written to it. */
export function capture(isTTY = false): Captured {
  let text = "";
  return {
    isTTY,
    write(s: string) {
      text += s;
      return true;
    },
    get text() {
      return text;
    },
  };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main(argv) in-process with captured output; `signals` lets a test emit SIGINT. */
export async function runCli(argv: string[], io: Partial<CliIO> = {}): Promise<CliRun> {
  const stdout = capture();
  const stderr = capture();
  const code = await main(argv, {
    stdout,
    stderr,
    env: {},
    signals: new EventEmitter() as unknown as CliIO["signals"],
    exit: (c: number) => {
      throw new Error(`exit(${c}) called`);
    },
    ...io,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
