// Longest common subsequence length (dynamic programming, two rolling rows).

/** Length of the longest common subsequence of two sequences; O(|a|·|b|) time, O(min) memory. */
export function lcsLength<T>(a: readonly T[], b: readonly T[]): number {
  if (a.length < b.length) [a, b] = [b, a];
  const n = b.length;
  if (n === 0) return 0;
  let prev = new Uint32Array(n + 1);
  let cur = new Uint32Array(n + 1);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    for (let j = 1; j <= n; j++) {
      cur[j] = x === b[j - 1] ? (prev[j - 1] as number) + 1 : Math.max(prev[j] as number, cur[j - 1] as number);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[n] as number;
}
