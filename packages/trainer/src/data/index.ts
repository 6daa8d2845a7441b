// Data: example and task types, loaders for TRACE and JSON-lines folders, up-front validation.

export { DataError, type DataIssue, formatIssue, MAX_LISTED_ISSUES } from "./issues.js";
export { type JsonParseResult, type JsonSyntaxError, lineColumn, locateJsonError, parseJson } from "./json.js";
export {
  type DataFormat,
  discoverTasks,
  type LoadStreamOptions,
  loadTaskStream,
  type SampleCap,
  TRACE_METRICS,
  TRACE_ORDER_1,
} from "./load.js";
export { loadStream, type StreamSource } from "./stream.js";
export { checkRecord, parseJsonArrayFile, parseJsonLinesFile } from "./records.js";
export { type Example, SPLIT_NAMES, type SplitName, type TaskData } from "./types.js";
