// Wraps public functions so that every error they throw names the op (e.g. a native "seekr.gather: ..." raised
// inside embedding() becomes "embedding: seekr.gather: ..."); errors that already name it pass through unchanged.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function named<F extends (...args: any[]) => any>(op: string, fn: F, aliases: readonly string[] = []): F {
  const lower = [op, ...aliases].map((n) => n.toLowerCase());
  const wrapped = function (this: unknown, ...args: unknown[]) {
    try {
      return fn.apply(this, args);
    } catch (e) {
      if (e instanceof Error) {
        const m = e.message.toLowerCase();
        if (lower.some((n) => m.includes(n))) throw e;
        throw new Error(`${op}: ${e.message}`, { cause: e });
      }
      throw new Error(`${op}: ${String(e)}`, { cause: e });
    }
  } as unknown as F;
  Object.defineProperty(wrapped, "name", { value: op });
  return wrapped;
}
