// Loss terms shared by the methods: KL distillation of logits at answer positions (DER++ / LwF) and helpers.

import { type Tensor, addScalar, indexSelect, logSoftmax, mul, mulScalar, noGrad, reshape, softmax, sum, tensor } from "@seekr/tensor";

/** Σ p log p / N over a dense [N × V] distribution array (the teacher entropy term, a constant). */
function negEntropy(p: Float32Array): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const x = p[i]!;
    if (x > 0) s += x * Math.log(x);
  }
  return s;
}

/** Rows `flat` (indices into B·T) of logits [B, T, V] as [N, V] (differentiable; on the logits' device). */
export function gatherPositions(logits: Tensor, flat: readonly number[]): Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  const idx = tensor(Int32Array.from(flat), { dtype: "int32", shape: [flat.length], device: logits.device });
  return indexSelect(reshape(logits, [B * T, V]), idx);
}

/**
 * Mean over N positions of KL(teacher ‖ softmax(student / temperature)), the teacher given as dense
 * probabilities [N × V] (already at the temperature). The value is the KL itself (the teacher-entropy
 * constant is added on the host; gradients equal those of the cross-entropy against the teacher, as in
 * the reference code). Returns a scalar tensor on the student's device; 0 positions give 0.
 */
export function klToTeacher(studentRows: Tensor, teacherProbs: Float32Array, temperature = 1): Tensor {
  const [N, V] = studentRows.shape as [number, number];
  const device = studentRows.device;
  if (teacherProbs.length !== N * V) throw new Error(`klToTeacher: teacher has ${teacherProbs.length} values, expected ${N} × ${V}`);
  if (N === 0) return tensor(new Float32Array([0]), { shape: [], device });
  const logq = logSoftmax(temperature === 1 ? studentRows : mulScalar(studentRows, 1 / temperature), -1);
  const p = tensor(teacherProbs, { shape: [N, V], device });
  const crossEntropy = mulScalar(sum(mul(p, logq)), -1 / N);
  return addScalar(crossEntropy, negEntropy(teacherProbs) / N);
}

/** softmax(logits / temperature) of [N, V] rows as a host array (no gradient). */
export function probsAt(rows: Tensor, temperature = 1): Float32Array {
  return noGrad(() => {
    const p = softmax(temperature === 1 ? rows : mulScalar(rows, 1 / temperature), -1);
    const out = p.dataSync() as Float32Array;
    return Float32Array.from(out);
  });
}

/** A scalar tensor's value. */
export function scalarValue(t: Tensor | number): number {
  return typeof t === "number" ? t : t.item();
}
