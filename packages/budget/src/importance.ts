// Importance matrices (layers x heads): input forms, validation and normalisation.

import { formatValue, isCount } from "./format.js";

/** Row-major importance matrix: `data[layer * heads + head]`. */
export interface ImportanceMatrix {
  readonly layers: number;
  readonly heads: number;
  readonly data: ArrayLike<number>;
}

/** Importance as nested rows (`importance[layer][head]`) or as a row-major matrix. */
export type ImportanceInput = readonly (readonly number[])[] | ImportanceMatrix;

/** A validated, private copy of an importance matrix (every entry finite and >= 0, no -0). */
export interface CheckedImportance {
  readonly layers: number;
  readonly heads: number;
  readonly data: Float64Array;
}

function checkEntry(value: unknown, layer: number, head: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new Error(
      `importance: layer ${layer}, head ${head}: expected a finite non-negative number, got ${formatValue(value)}`,
    );
  }
  return value + 0; // -0 -> 0
}

/**
 * Validates importance and returns a private Float64Array copy.
 * Throws an Error naming the layer and head of the first non-finite or negative entry, or the row
 * whose length differs from the first row's.
 */
export function toImportanceMatrix(importance: ImportanceInput): CheckedImportance {
  if (Array.isArray(importance)) {
    const rows = importance as readonly unknown[];
    const layers = rows.length;
    const first = rows[0];
    const heads = layers === 0 ? 0 : Array.isArray(first) ? first.length : -1;
    const data = new Float64Array(layers * Math.max(heads, 0));
    for (let l = 0; l < layers; l++) {
      const row = rows[l];
      if (!Array.isArray(row)) {
        throw new Error(`importance: layer ${l}: expected an array of head importances, got ${formatValue(row)}`);
      }
      if (row.length !== heads) {
        throw new Error(
          `importance: layer ${l}: expected ${heads} heads (the length of layer 0), got ${row.length}; the matrix must be rectangular`,
        );
      }
      for (let h = 0; h < heads; h++) data[l * heads + h] = checkEntry(row[h], l, h);
    }
    return { layers, heads, data };
  }
  if (typeof importance !== "object" || importance === null) {
    throw new Error(`importance: expected number[][] or {layers, heads, data}, got ${formatValue(importance)}`);
  }
  const { layers, heads, data: source } = importance as ImportanceMatrix;
  if (!isCount(layers)) throw new Error(`importance.layers: expected a non-negative integer, got ${formatValue(layers)}`);
  if (!isCount(heads)) throw new Error(`importance.heads: expected a non-negative integer, got ${formatValue(heads)}`);
  if (source === null || typeof source !== "object" || typeof source.length !== "number") {
    throw new Error(`importance.data: expected an array of numbers, got ${formatValue(source)}`);
  }
  if (source.length !== layers * heads) {
    throw new Error(
      `importance.data: expected layers * heads = ${layers} * ${heads} = ${layers * heads} entries, got ${source.length}`,
    );
  }
  const data = new Float64Array(layers * heads);
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) data[l * heads + h] = checkEntry(source[l * heads + h], l, h);
  }
  return { layers, heads, data };
}

/** Σ_h I[l][h] for every layer, summed in head order (so the result is reproducible bit for bit). */
export function layerScoresOf(matrix: CheckedImportance): number[] {
  const scores: number[] = [];
  for (let l = 0; l < matrix.layers; l++) {
    let sum = 0;
    for (let h = 0; h < matrix.heads; h++) sum += matrix.data[l * matrix.heads + h] ?? 0;
    scores.push(sum);
  }
  return scores;
}
