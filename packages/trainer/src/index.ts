// Public API of @seekr/trainer (foundations): metrics, the built-in task stream, data loaders, run configuration.

export * from "./metrics/index.js";
export * from "./data/index.js";
export * from "./tasks/index.js";
export * from "./config/index.js";
export { buildReport, defaultReportPath, loadRun as loadRunFolder, renderReport, RunFolderError, writeReport } from "./report/index.js";
export type { ImportanceFile, LogEntry, MethodScores as ReportMethodScores, RunData as ReportRunData, ScoresFile as ReportScoresFile } from "./report/index.js";
export { main as seekrMain, CliError, ProgressReporter } from "./cli/index.js";
export * from "./run/index.js";
export * from "./methods/index.js";
export * from "./train/index.js";
export * from "./eval/index.js";
export * from "./pretrain/index.js";
export * from "./experiment/index.js";
