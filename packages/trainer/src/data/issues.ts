// Data problems found before training: located issues aggregated into one DataError.

/** One problem in the data, located as precisely as possible. */
export interface DataIssue {
  /** The file or folder concerned. */
  file: string;
  /** 1-based line (JSON-lines records, JSON syntax errors). */
  line?: number;
  /** 1-based column (JSON syntax errors). */
  column?: number;
  /** 0-based index of the element in a JSON array file. */
  index?: number;
  message: string;
}

/** Renders an issue as `file:line:column: message` or `file [index 3]: message`. */
export function formatIssue(issue: DataIssue): string {
  let where = issue.file;
  if (issue.line !== undefined) where += `:${issue.line}${issue.column !== undefined ? `:${issue.column}` : ""}`;
  if (issue.index !== undefined) where += ` [index ${issue.index}]`;
  return `${where}: ${issue.message}`;
}

/** How many issues the message lists before summarising the rest (all are kept in `issues`). */
export const MAX_LISTED_ISSUES = 50;

/** Every problem found in a data set, thrown once after validating everything. */
export class DataError extends Error {
  readonly issues: readonly DataIssue[];

  constructor(issues: readonly DataIssue[], what = "data") {
    const listed = issues.slice(0, MAX_LISTED_ISSUES).map((i) => `  - ${formatIssue(i)}`);
    if (issues.length > MAX_LISTED_ISSUES) listed.push(`  ... and ${issues.length - MAX_LISTED_ISSUES} more`);
    super(`Invalid ${what}: ${issues.length} problem${issues.length === 1 ? "" : "s"} found before training\n${listed.join("\n")}`);
    this.name = "DataError";
    this.issues = issues;
  }
}
