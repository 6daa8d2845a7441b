// Optimizer steps and gradient clipping once per device: AdamW (three steps: bias correction, decoupled decay, a
// parameter without a gradient left alone), SGD (plain; momentum with dampening and weight decay; Nesterov), and
// clipGradNorm (clipping and not). Gradients come from backward() of sum(p * w_step) (so p.grad = w_step); the
// references are torch.optim's formulas in float64 from the same float32 values.
//
// Tolerances (float32): parameters and moments rtol 1e-5, atol 1e-7 (an update is ~lr = 1e-2, so 1e-5 of a unit
// parameter is 0.1% of a step); the returned norm rtol 1e-5; clipped gradients rtol 1e-5, atol 1e-7.
import { S, assert, deviceTest, leakCheck, rng, dev, vals, assertClose, assertEqualArrays } from "./helper.mjs";

const TOL = { rtol: 1e-5, atol: 1e-7 };

/** Float32 parameters on the device that require grad (kept: the caller disposes them). */
function params(device, r, shapes) {
  return shapes.map((shape) => {
    const data = r.normal(shape.reduce((a, b) => a * b, 1));
    const p = dev(device, data, shape).keep();
    p.requiresGrad = true;
    return { p, ref: Float64Array.from(data), shape };
  });
}
/** Sets p.grad = w for the first `n` parameters through backward() of sum(p * w); returns the w's (float32 values). */
function setGrads(device, r, ps, n = ps.length) {
  const ws = ps.slice(0, n).map(({ shape }) => r.normal(shape.reduce((a, b) => a * b, 1), 0.5));
  S.tidy(() => {
    let loss = null;
    ps.slice(0, n).forEach(({ p, shape }, i) => {
      const term = S.sum(S.mul(p, dev(device, ws[i], shape)));
      loss = loss ? S.add(loss, term) : term;
    });
    loss.backward();
  });
  return ws.map((w) => Float64Array.from(w));
}

deviceTest("AdamW: three steps (lr 1e-2, betas [0.9, 0.95], eps 1e-8, weight decay 0.1); a parameter without gradient", (device) => {
  const r = rng(1);
  const ps = params(device, r, [[3, 4], [5], [2, 2]]);
  const cfg = { lr: 1e-2, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 };
  const opt = new S.AdamW(ps.map((x) => x.p), cfg);
  const m = ps.map(({ ref }) => new Float64Array(ref.length));
  const v = ps.map(({ ref }) => new Float64Array(ref.length));
  const frozen = Float64Array.from(ps[2].ref);
  try {
    for (let step = 1; step <= 3; step++) {
      opt.zeroGrad();
      const gs = setGrads(device, r, ps, 2); // the third parameter gets no gradient
      opt.step();
      const [b1, b2] = cfg.betas;
      const bc1 = 1 - b1 ** step;
      const bc2 = 1 - b2 ** step;
      gs.forEach((g, k) => {
        const p = ps[k].ref;
        for (let i = 0; i < p.length; i++) {
          p[i] *= 1 - cfg.lr * cfg.weightDecay;
          m[k][i] = b1 * m[k][i] + (1 - b1) * g[i];
          v[k][i] = b2 * v[k][i] + (1 - b2) * g[i] * g[i];
          p[i] -= (cfg.lr / bc1) * (m[k][i] / (Math.sqrt(v[k][i]) / Math.sqrt(bc2) + cfg.eps));
        }
        assertClose(`AdamW step ${step} param ${k}`, vals(ps[k].p), p, TOL);
      });
      const st = opt.state();
      assert.equal(st.step, step);
      for (const k of [0, 1]) {
        assertClose(`AdamW step ${step} exp_avg ${k}`, vals(st.expAvg[k]), m[k], TOL);
        assertClose(`AdamW step ${step} exp_avg_sq ${k}`, vals(st.expAvgSq[k]), v[k], { rtol: 1e-5, atol: 1e-12 });
      }
      assertEqualArrays(`AdamW step ${step}: the parameter without a gradient is unchanged`, vals(ps[2].p), Array.from(frozen, Math.fround));
    }
  } finally {
    opt.dispose();
    for (const { p } of ps) p.dispose();
  }
});

deviceTest("SGD: plain; momentum 0.9 + dampening 0.1 + weight decay; Nesterov (three steps each)", (device) => {
  const configs = [
    { lr: 0.1 },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.02 },
  ];
  configs.forEach((cfg, c) => {
    const r = rng(10 + c);
    const ps = params(device, r, [[3, 4], [6]]);
    const opt = new S.SGD(ps.map((x) => x.p), cfg);
    const mom = cfg.momentum ?? 0;
    const damp = cfg.dampening ?? 0;
    const wd = cfg.weightDecay ?? 0;
    const buf = ps.map(({ ref }) => new Float64Array(ref.length));
    try {
      for (let step = 1; step <= 3; step++) {
        opt.zeroGrad();
        const gs = setGrads(device, r, ps);
        opt.step();
        gs.forEach((g, k) => {
          const p = ps[k].ref;
          for (let i = 0; i < p.length; i++) {
            let d = g[i] + wd * p[i];
            if (mom !== 0) {
              buf[k][i] = step === 1 ? d : mom * buf[k][i] + (1 - damp) * d;
              d = cfg.nesterov ? d + mom * buf[k][i] : buf[k][i];
            }
            p[i] -= cfg.lr * d;
          }
          assertClose(`SGD ${JSON.stringify(cfg)} step ${step} param ${k}`, vals(ps[k].p), p, TOL);
        });
      }
    } finally {
      opt.dispose();
      for (const { p } of ps) p.dispose();
    }
  });
});

deviceTest("clipGradNorm: returns the global L2 norm; scales every gradient by maxNorm / (norm + 1e-6) only when below 1", (device) => {
  for (const [label, maxNorm] of [["clips", 0.5], ["does not clip", 100]]) {
    const r = rng(label.length);
    const ps = params(device, r, [[3, 4], [7], [2]]);
    try {
      const gs = setGrads(device, r, ps, 2); // the third parameter has no gradient: skipped
      const norm = Math.sqrt(gs.reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
      const got = S.clipGradNorm(ps.map((x) => x.p), maxNorm);
      assertClose(`clipGradNorm ${label}: norm`, [got], [norm], { rtol: 1e-5 });
      const coef = Math.min(1, maxNorm / (norm + 1e-6));
      gs.forEach((g, k) => assertClose(`clipGradNorm ${label}: grad ${k}`, vals(ps[k].p.grad), g.map((x) => x * coef), { rtol: 1e-5, atol: 1e-7 }));
      assert.equal(ps[2].p.grad, null);
    } finally {
      for (const { p } of ps) p.dispose();
    }
  }
});

leakCheck();
