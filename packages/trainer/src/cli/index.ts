// The `seekr` command line: main(argv) and the pieces it is built from.

export { extractOverrides, type Override } from "./argv.js";
export { type CliConfig, type ConfigFlags, methodsFromFlag, resolveCliConfig } from "./config.js";
export { CliError, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, exitCodeOf } from "./errors.js";
export { buildProgram, type CliIO, main, packageVersion, printError } from "./main.js";
export { formatDuration, type OutStream, type ProgressOptions, ProgressReporter } from "./progress.js";
export { loadRunExperiment, loadTrainer, type RunEvent, type RunExperiment, type RunOptions, type RunResultLike, type Trainer } from "./runner.js";
export { formatSummary, sideBySide, textTable } from "./table.js";
export { formatDevices } from "./commands/devices.js";
