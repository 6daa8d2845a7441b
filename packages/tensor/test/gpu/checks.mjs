// Reporting for the GPU check scripts (packages/tensor/test/gpu/*.mjs, test/gpu/*.mjs): one JSON line per check, and
// the exit status from the failures counted.
export const report = (o) => console.log(JSON.stringify(o));
let failures = 0;
/** Reports err against tol (a failure when err > tol or err is NaN). */
export function check(what, err, tol, extra = {}) {
  const ok = err <= tol;
  if (!ok) failures++;
  report({ check: what, err, tol, ok, ...extra });
}
/** Reports a failed check that is not a number against a tolerance. */
export function fail(o) {
  failures++;
  report({ ...o, ok: false });
}
/** Largest |a[i] - b[i]|. */
export function maxErr(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
/** Largest |a[i] - b[i]| relative to the largest |b[i]|. */
export function relErr(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-30);
}
/** Exits 1 when any check failed, else 0. */
export const exit = () => process.exit(failures ? 1 : 0);
