// CLI errors: a message for the user and an exit code (2: usage or configuration, 1: failure, 130: interrupted).

import { ConfigError } from "../config/index.js";
import { DataError } from "../data/index.js";
import { RunFolderError } from "../report/index.js";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** An error the CLI reports as one message (no stack trace unless --verbose) with its exit code. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** The exit code for an error: configuration and usage problems exit 2, everything else 1. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ConfigError || err instanceof RunFolderError) return EXIT_USAGE;
  if (err instanceof DataError) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** Whether the error is one the user caused and can fix from its message alone (no stack trace needed). */
export function isExpected(err: unknown): boolean {
  return err instanceof CliError || err instanceof ConfigError || err instanceof RunFolderError || err instanceof DataError;
}
