// GPU check (run on a machine with CUDA, over the built dist/): the golden tiny-LLaMA training step of
// test/fixtures/llama_step.safetensors on cuda:0 against PyTorch's CPU results — logits, loss, every gradient, three
// clipped AdamW steps — then the reference configuration's training step timed on the GPU. Prints JSON lines;
// exits 1 when a comparison fails.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import * as S from "../../dist/index.js";
import { check, exit, maxErr, report } from "./checks.mjs";
import { forward, loss, initParams, REFERENCE_CONFIG } from "../../dist-bench/bench/llama.js";

const here = dirname(fileURLToPath(import.meta.url));

const info = S.devices();
report({ device: info.cuda.devices[0] ?? null, cudaAvailable: info.cuda.available, reason: info.cuda.reason });
if (!info.cuda.available) process.exit(0);

const { tensors: fx, metadata } = S.loadSafetensors(join(here, "..", "fixtures", "llama_step.safetensors"));
const c = JSON.parse(metadata.config);
const cfg = { vocabSize: c.vocab_size, hiddenSize: c.hidden_size, numLayers: c.num_hidden_layers, numHeads: c.num_attention_heads,
  numKvHeads: c.num_key_value_heads, intermediateSize: c.intermediate_size, rmsNormEps: c.rms_norm_eps, ropeTheta: c.rope_theta };
const names = [...fx.keys()].filter((k) => k.startsWith("model.") || k === "lm_head.weight");
const params = new Map(names.map((n) => {
  const t = fx.get(n).to("cuda:0").keep();
  t.requiresGrad = true;
  return [n, t];
}));
const ids = fx.get("input_ids").to("cuda:0").keep();
const targets = fx.get("targets").to("cuda:0").keep();

S.tidy(() => {
  const logits = forward(cfg, params, ids);
  check("logits (cuda vs pytorch)", maxErr(logits.toFloatArray(), fx.get("logits").toFloatArray()), 2e-5);
  const l = loss(cfg, params, ids, targets);
  check("loss", Math.abs(l.item() - fx.get("loss").item()), 2e-5);
  l.backward();
  let g = 0;
  for (const n of names) g = Math.max(g, maxErr(params.get(n).grad.toFloatArray(), fx.get("grad." + n).toFloatArray()));
  check("all gradients", g, 2e-5);
});
for (const p of params.values()) { p.grad?.dispose(); p.grad = null; }
const plist = [...params.values()];
const opt = new S.AdamW(plist, { lr: 1e-2, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
const losses = [], norms = [];
for (let s = 0; s < 3; s++) {
  S.tidy(() => {
    opt.zeroGrad();
    const l = loss(cfg, params, ids, targets);
    losses.push(l.item());
    l.backward();
    norms.push(S.clipGradNorm(plist, 1.0));
    opt.step();
  });
}
check("3-step losses", maxErr(losses, fx.get("step_losses").toFloatArray()), 3e-5);
check("grad norms", maxErr(norms, fx.get("grad_norms").toFloatArray()), 3e-5);
let p3 = 0;
for (const n of names) p3 = Math.max(p3, maxErr(params.get(n).toFloatArray(), fx.get("step3." + n).toFloatArray()));
check("parameters after 3 AdamW steps", p3, 3e-5);
opt.dispose();

// Timing: the reference configuration (float32, CUDA cores) on cuda:0.
const cfgR = REFERENCE_CONFIG, B = 16, T = 128;
const pr = initParams(cfgR, 0, 0.02);
const prc = new Map([...pr].map(([n, t]) => { const u = t.to("cuda:0").keep(); u.requiresGrad = true; t.dispose(); return [n, u]; }));
const pl = [...prc.values()];
const o2 = new S.AdamW(pl, { lr: 1e-3, betas: [0.9, 0.95], weightDecay: 0.1 });
const gen = new S.Generator(1);
const idR = gen.randint([B, T], 0, 256).to("cuda:0").keep();
const tgR = gen.randint([B, T], 0, 256).to("cuda:0").keep();
const times = [];
for (let s = 0; s < 13; s++) {
  const t0 = performance.now();
  S.tidy(() => {
    o2.zeroGrad();
    const l = loss(cfgR, prc, idR, tgR);
    l.backward();
    S.clipGradNorm(pl, 1.0);
    o2.step();
    l.item(); // synchronises
  });
  if (s >= 3) times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const med = times[times.length >> 1];
report({ bench: "reference config training step on cuda:0 (float32)", stepMsMedian: med, tokensPerS: (B * T) / (med / 1000), memory: S.memory().devices });
exit();
