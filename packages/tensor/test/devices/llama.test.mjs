// A whole tiny LLaMA training step once per device against PyTorch's fixture test/fixtures/llama_step.safetensors
// (2 layers, hidden 32, 4 heads / 2 kv heads, vocab 64, batch 2 x 8): logits, loss, every parameter's gradient, then
// three clipped AdamW steps (losses, gradient norms, the parameters after step 3). The model is the one of
// bench/llama.ts (embedding, RMSNorm, rope, GQA attention, SwiGLU MLP, untied head), written out here so the suite
// needs nothing beyond dist/. Tensors are loaded on the cpu and copied to the device under test.
//
// Tolerances: logits, loss and gradients max |error| 2e-5; the three-step losses, norms and parameters 3e-5 (as
// test/gpu/llama-step.mjs).
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { S, assert, deviceTest, leakCheck, assertShape, noteMargin } from "./helper.mjs";

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "llama_step.safetensors");

function forward(c, P, ids) {
  const [B, T] = ids.shape;
  const hd = c.hiddenSize / c.numHeads;
  const p = (n) => {
    const t = P.get(n);
    if (!t) throw new Error(`missing parameter ${n}`);
    return t;
  };
  let x = S.embedding(p("model.embed_tokens.weight"), ids);
  for (let i = 0; i < c.numLayers; i++) {
    const l = `model.layers.${i}`;
    const h = S.rmsNorm(x, p(`${l}.input_layernorm.weight`), c.rmsNormEps);
    const q = S.rope(S.reshape(S.linear(h, p(`${l}.self_attn.q_proj.weight`)), [B, T, c.numHeads, hd]), { theta: c.ropeTheta });
    const k = S.rope(S.reshape(S.linear(h, p(`${l}.self_attn.k_proj.weight`)), [B, T, c.numKvHeads, hd]), { theta: c.ropeTheta });
    const v = S.reshape(S.linear(h, p(`${l}.self_attn.v_proj.weight`)), [B, T, c.numKvHeads, hd]);
    const o = S.reshape(S.attention(q, k, v, { causal: true }), [B, T, c.numHeads * hd]);
    x = S.add(x, S.linear(o, p(`${l}.self_attn.o_proj.weight`)));
    const h2 = S.rmsNorm(x, p(`${l}.post_attention_layernorm.weight`), c.rmsNormEps);
    const gate = S.silu(S.linear(h2, p(`${l}.mlp.gate_proj.weight`)));
    const up = S.linear(h2, p(`${l}.mlp.up_proj.weight`));
    x = S.add(x, S.linear(S.mul(gate, up), p(`${l}.mlp.down_proj.weight`)));
  }
  return S.linear(S.rmsNorm(x, p("model.norm.weight"), c.rmsNormEps), p("lm_head.weight"));
}
const lossOf = (c, P, ids, targets) =>
  S.crossEntropy(S.reshape(forward(c, P, ids), [-1, c.vocabSize]), S.reshape(targets, [-1]), { ignoreIndex: -100 });

const maxErr = (a, b) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Number.isNaN(a[i] - b[i]) ? Infinity : Math.abs(a[i] - b[i]));
  return m;
};
function within(what, err, tol) {
  noteMargin(`llama ${what}`, err, tol);
  assert.ok(err <= tol, `${what}: max |error| ${err.toExponential(3)} > ${tol}`);
}

deviceTest("tiny LLaMA training step vs PyTorch (llama_step.safetensors): logits, loss, gradients, 3 clipped AdamW steps", (device) => {
  const { tensors: fx, metadata } = S.loadSafetensors(FIXTURE);
  const params = new Map();
  let opt = null;
  try {
    const h = JSON.parse(metadata.config);
    const oc = JSON.parse(metadata.optimizer);
    const cfg = {
      vocabSize: h.vocab_size, hiddenSize: h.hidden_size, numLayers: h.num_hidden_layers, numHeads: h.num_attention_heads,
      numKvHeads: h.num_key_value_heads, rmsNormEps: h.rms_norm_eps, ropeTheta: h.rope_theta,
    };
    const F = (n) => {
      const t = fx.get(n);
      if (!t) throw new Error(`fixture tensor ${n} is missing`);
      return t;
    };
    const names = [...fx.keys()].filter((n) => n.startsWith("model.") || n === "lm_head.weight");
    assert.equal(names.length, 21, "21 parameters in the fixture");
    for (const n of names) {
      const t = F(n).to(device).keep();
      t.requiresGrad = true;
      params.set(n, t);
    }
    const ids = F("input_ids").to(device);
    const targets = F("targets").to(device);

    S.tidy(() => {
      const logits = S.noGrad(() => forward(cfg, params, ids));
      assertShape(logits, F("logits").shape, "logits");
      assert.equal(S.deviceName(logits.device), S.deviceName(ids.device));
      within("logits", maxErr(logits.toFloatArray(), F("logits").toFloatArray()), 2e-5);
      const l = lossOf(cfg, params, ids, targets);
      within("loss", Math.abs(l.item() - F("loss").item()), 2e-5);
      l.backward();
    });
    for (const n of names) {
      const g = params.get(n).grad;
      assert.ok(g, `no gradient reached ${n}`);
      within(`grad ${n}`, maxErr(g.toFloatArray(), F(`grad.${n}`).toFloatArray()), 2e-5);
    }

    const plist = [...params.values()];
    opt = new S.AdamW(plist, { lr: oc.lr, betas: oc.betas, eps: oc.eps, weightDecay: oc.weight_decay });
    const losses = [];
    const norms = [];
    for (let s = 0; s < oc.steps; s++)
      S.tidy(() => {
        opt.zeroGrad();
        const l = lossOf(cfg, params, ids, targets);
        losses.push(l.item());
        l.backward();
        norms.push(S.clipGradNorm(plist, oc.clip_grad_norm));
        opt.step();
      });
    within("3-step losses", maxErr(losses, F("step_losses").toFloatArray()), 3e-5);
    within("gradient norms", maxErr(norms, F("grad_norms").toFloatArray()), 3e-5);
    for (const n of names) within(`step3 ${n}`, maxErr(params.get(n).toFloatArray(), F(`step3.${n}`).toFloatArray()), 3e-5);
  } finally {
    opt?.dispose();
    for (const p of params.values()) p.dispose();
    for (const t of fx.values()) t.dispose();
  }
});

leakCheck();
