// Head-importance statistics (SEEKR §4): per-layer normalisation, combination across tasks, JSON state for resuming.
export type Matrix = number[][];

/** How a task's sensitivity and forgettability are combined into the accumulated importance. */
export type Combine = "sum-of-products" | "product-of-sums";
/** Which measures the importance uses (the paper's ablations; "random" heads are a budget strategy). */
export type Measure = "both" | "sensitivity" | "forgettability";

export function checkMatrix(m: unknown, what: string, layers?: number, heads?: number): asserts m is Matrix {
  if (!Array.isArray(m) || m.length === 0) throw new Error(`${what}: expected a non-empty layers x heads matrix`);
  const H = heads ?? (Array.isArray(m[0]) ? m[0].length : -1);
  if (layers !== undefined && m.length !== layers) throw new Error(`${what}: expected ${layers} layers, got ${m.length}`);
  m.forEach((row, l) => {
    if (!Array.isArray(row) || row.length !== H) throw new Error(`${what}: layer ${l} has ${Array.isArray(row) ? row.length : "no"} heads, expected ${H}`);
    row.forEach((x, h) => {
      if (typeof x !== "number" || !Number.isFinite(x) || x < 0)
        throw new Error(`${what}: value at layer ${l}, head ${h} must be a finite non-negative number, got ${String(x)}`);
    });
  });
}

/** S̃[l][h] = S[l][h] / Σ_h' S[l][h'] (a layer whose heads are all zero stays zero). */
export function normalizeWithinLayer(m: Matrix): Matrix {
  checkMatrix(m, "normalizeWithinLayer");
  return m.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((x) => (s > 0 ? x / s : 0));
  });
}

export interface TaskImportance {
  task: string;
  /** Raw task sensitivity S^k (before normalisation). */
  sensitivity: Matrix;
  /** Forgettability F^k. */
  forgettability: Matrix;
}

export interface ImportanceState {
  format: "seekr.importance";
  version: 1;
  layers: number;
  heads: number;
  tasks: TaskImportance[];
}

export interface ImportanceOptions {
  /** "sum-of-products" (default, the reference code): I = Σ_k S̃^k ⊙ F^k; "product-of-sums" (the paper): (Σ_k S̃^k) ⊙ (Σ_k F^k). */
  combine?: Combine;
  /** "both" (default), "sensitivity" only (Σ_k S̃^k) or "forgettability" only (Σ_k F^k). */
  measure?: Measure;
}

/** Accumulates per-task sensitivity and forgettability and derives the importance matrix I[l][h]. */
export class ImportanceTracker {
  private readonly taskList: TaskImportance[] = [];
  constructor(readonly layers: number, readonly heads: number) {
    if (!Number.isInteger(layers) || layers <= 0) throw new Error(`ImportanceTracker: layers must be a positive integer, got ${layers}`);
    if (!Number.isInteger(heads) || heads <= 0) throw new Error(`ImportanceTracker: heads must be a positive integer, got ${heads}`);
  }

  /** Records task k's statistics (called after the task, on its replay samples). */
  addTask(task: string, sensitivity: Matrix, forgettability: Matrix): void {
    if (typeof task !== "string" || task.length === 0) throw new Error("ImportanceTracker.addTask: task must be a non-empty string");
    if (this.taskList.some((t) => t.task === task)) throw new Error(`ImportanceTracker.addTask: task '${task}' was already added`);
    checkMatrix(sensitivity, `ImportanceTracker.addTask('${task}') sensitivity`, this.layers, this.heads);
    checkMatrix(forgettability, `ImportanceTracker.addTask('${task}') forgettability`, this.layers, this.heads);
    this.taskList.push({ task, sensitivity: sensitivity.map((r) => [...r]), forgettability: forgettability.map((r) => [...r]) });
  }

  get tasks(): readonly TaskImportance[] {
    return this.taskList;
  }

  /** The accumulated importance I[l][h] over the recorded tasks (zeros before any task). */
  importance(opts: ImportanceOptions = {}): Matrix {
    const combine = opts.combine ?? "sum-of-products";
    const measure = opts.measure ?? "both";
    if (combine !== "sum-of-products" && combine !== "product-of-sums") throw new Error(`importance: unknown combine ${JSON.stringify(combine)}`);
    if (measure !== "both" && measure !== "sensitivity" && measure !== "forgettability") throw new Error(`importance: unknown measure ${JSON.stringify(measure)}`);
    const zero = (): Matrix => Array.from({ length: this.layers }, () => new Array<number>(this.heads).fill(0));
    const sumS = zero(), sumF = zero(), sumSF = zero();
    for (const t of this.taskList) {
      const sn = normalizeWithinLayer(t.sensitivity);
      for (let l = 0; l < this.layers; l++)
        for (let h = 0; h < this.heads; h++) {
          sumS[l]![h]! += sn[l]![h]!;
          sumF[l]![h]! += t.forgettability[l]![h]!;
          sumSF[l]![h]! += sn[l]![h]! * t.forgettability[l]![h]!;
        }
    }
    if (measure === "sensitivity") return sumS;
    if (measure === "forgettability") return sumF;
    if (combine === "sum-of-products") return sumSF;
    return sumS.map((row, l) => row.map((s, h) => s * sumF[l]![h]!));
  }

  toJSON(): ImportanceState {
    return { format: "seekr.importance", version: 1, layers: this.layers, heads: this.heads, tasks: this.taskList.map((t) => ({ ...t })) };
  }

  static fromJSON(json: unknown): ImportanceTracker {
    const s = json as Partial<ImportanceState> | null;
    if (!s || typeof s !== "object" || s.format !== "seekr.importance") throw new Error("ImportanceTracker.fromJSON: not a seekr.importance state");
    if (s.version !== 1) throw new Error(`ImportanceTracker.fromJSON: unsupported version ${String(s.version)} (this build reads version 1)`);
    const t = new ImportanceTracker(s.layers as number, s.heads as number);
    if (!Array.isArray(s.tasks)) throw new Error("ImportanceTracker.fromJSON: 'tasks' must be an array");
    for (const task of s.tasks) t.addTask(task.task, task.sensitivity, task.forgettability);
    return t;
  }
}
