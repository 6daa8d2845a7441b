// Scopes and the GC safety net together: a tensor is registered for finalization only when it leaves every scope
// alive (kept, returned past the outermost tidy, detached for autograd); each of those paths must still be freed
// when the tensor is dropped without dispose().
import { describe, expect, test } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { memory, tensor, tidy, zeros, mul, sum, type Tensor } from "../src/index.js";

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 5));
};
const snap = () => {
  const m = memory();
  return { tensors: m.tensors, buffers: m.buffers, bytes: m.devices.cpu!.bytes };
};

async function settle(gc: () => void, until: () => boolean): Promise<void> {
  for (let i = 0; i < 30 && !until(); i++) {
    gc();
    await ticks(2);
  }
}

describe("scopes and the GC safety net", () => {
  test("kept, returned and autograd-detached tensors dropped without dispose() are freed after gc()", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    let prev = -1;
    await settle(gc, () => {
      const b = snap().bytes;
      const same = b === prev;
      prev = b;
      return same;
    });
    const base = snap();
    (() => {
      for (let i = 0; i < 50; i++) {
        // kept inside a tidy: leaves the scope alive
        tidy(() => {
          tensor(new Float32Array(64).fill(i)).keep();
        });
        // returned from the outermost tidy
        tidy(() => tensor(new Float32Array(64).fill(i)));
        // returned from an inner tidy to an outer one, then kept by the outer
        tidy(() => {
          const t = tidy(() => tensor(new Float32Array(64).fill(i)));
          t.keep();
        });
        // a graph whose saved tensors (detached views) are never released by backward()
        tidy(() => {
          const w = zeros([64], { requiresGrad: true });
          const y = sum(mul(w, w));
          return y;
        });
      }
    })();
    expect(snap().bytes).toBeGreaterThan(base.bytes);
    await settle(gc, () => snap().bytes === base.bytes && snap().tensors === base.tensors);
    expect(snap()).toEqual(base);
  });

  test("a tensor held past its tidy stays alive through gc()", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const held: Tensor = tidy(() => tensor([1, 2, 3]));
    const kept: Tensor[] = [];
    tidy(() => {
      kept.push(tensor([4, 5]).keep());
    });
    for (let i = 0; i < 5; i++) {
      gc();
      await ticks(2);
    }
    expect(held.toArray()).toEqual([1, 2, 3]);
    expect(kept[0]!.toArray()).toEqual([4, 5]);
    held.dispose();
    kept[0]!.dispose();
  });
});
