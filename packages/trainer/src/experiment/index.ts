// `seekr experiment`: a grid of methods × task orders × seeds run as child processes, aggregated into a Markdown
// results document with SVG plots. The grid file format is documented in grid.ts and experiments/paper-small.yaml.

export {
  type Aggregate,
  aggregate,
  type CellResult,
  type CostResult,
  type CostRow,
  type MethodRow,
  type RunSummary,
  type Stat,
  stat,
  type SweepPoint,
  type SweepResult,
  type TableResult,
} from "./aggregate.js";
export {
  applyGridOverrides,
  cellKey,
  deepMerge,
  type ExpandOptions,
  expandGrid,
  formatX,
  type Plan,
  type PlannedCell,
  type PlannedMethod,
  type PlannedRun,
  type PlannedUnit,
  runFolderName,
  settingsKey,
} from "./expand.js";
export { EXPERIMENT_FILES, type FolderInfo, indexResults, listRunFolders, readFolder, type RunState, runState, type StatusFile } from "./folders.js";
export { defaultGridFile, type Grid, type GridMethod, gridSchema, loadGrid, parseGrid, type SweepSpec, type TableSpec } from "./grid.js";
export {
  ANALYSIS_END,
  ANALYSIS_START,
  analysisSection,
  type DocumentMeta,
  formatStat,
  type MachineInfo,
  plotsFolder,
  type RenderedDocument,
  type RenderOptions,
  renderResults,
  writeResults,
} from "./markdown.js";
export { gitDirty, machineInfo } from "./meta.js";
export { formatSeconds, type GridRunResult, type RunnerIO, type RunnerOptions, type RunOutcome, runGrid, trainerBin } from "./runner.js";
export { type PlotPoint, type PlotSeries, type SweepPlotOptions, sweepPlot, xScaleOf } from "./svg.js";
