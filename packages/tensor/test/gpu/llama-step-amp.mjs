// GPU check (run on a machine with CUDA, over the built dist/): the mixed-precision golden steps of
// test/fixtures/llama_step_{bfloat16,float16}.safetensors on cuda:0 — the llama_step batch and initial parameters under
// autocast, against PyTorch's results (written on the CPU with the same policy; see scripts/golden.py) — with the same
// bounds as test/golden.test.ts on the CPU: logits / loss / gradients within a few ulps of the dtype, three AdamW steps
// on float32 master weights (float16 through GradScaler, scale 1024). Prints JSON lines; exits 1 when a check fails.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import * as S from "../../dist/index.js";
import { check, exit, fail, relErr, report } from "./checks.mjs";
import { forward, loss } from "../../dist-bench/bench/llama.js";

const here = dirname(fileURLToPath(import.meta.url));

const info = S.devices();
report({ device: info.cuda.devices[0] ?? null, cudaAvailable: info.cuda.available, reason: info.cuda.reason, gemm: info.cuda.gemm });
// SEEKR_CHECK_DEVICE=cpu runs the same checks on the CPU (checks the script itself on machines without a GPU).
const DEV = process.env.SEEKR_CHECK_DEVICE ?? "cuda:0";
if (DEV !== "cpu" && !info.cuda.available) process.exit(0);

const base = S.loadSafetensors(join(here, "..", "fixtures", "llama_step.safetensors"));
const c = JSON.parse(base.metadata.config);
const opt = JSON.parse(base.metadata.optimizer);
const cfg = { vocabSize: c.vocab_size, hiddenSize: c.hidden_size, numLayers: c.num_hidden_layers, numHeads: c.num_attention_heads,
  numKvHeads: c.num_key_value_heads, intermediateSize: c.intermediate_size, rmsNormEps: c.rms_norm_eps, ropeTheta: c.rope_theta };
const names = [...base.tensors.keys()].filter((k) => k.startsWith("model.") || k === "lm_head.weight");
const ids = base.tensors.get("input_ids").to(DEV).keep();
const targets = base.tensors.get("targets").to(DEV).keep();
const fresh = () => new Map(names.map((n) => {
  const t = base.tensors.get(n).to(DEV).keep();
  t.requiresGrad = true;
  return [n, t];
}));

for (const amp of ["bfloat16", "float16"]) {
  const fx = S.loadSafetensors(join(here, "..", "fixtures", `llama_step_${amp}.safetensors`));
  const F = (n) => fx.tensors.get(n);
  const scale = JSON.parse(fx.metadata.loss_scale);
  const ulp = amp === "bfloat16" ? 2 ** -8 : 2 ** -11;
  const params = fresh();
  S.tidy(() => {
    const logits = S.noGrad(() => S.autocast(amp, () => forward(cfg, params, ids)));
    if (logits.dtype !== amp) fail({ check: `${amp} logits dtype`, got: logits.dtype });
    check(`${amp} logits (cuda vs pytorch, rel to max)`, relErr(logits.toFloatArray(), F("logits").toFloatArray()), 4 * ulp);
    const l = S.autocast(amp, () => loss(cfg, params, ids, targets));
    check(`${amp} loss`, Math.abs(l.item() - F("loss").item()), 2 * ulp);
    S.mulScalar(l, scale).backward();
  });
  let g = 0;
  for (const n of names) g = Math.max(g, relErr(Array.from(params.get(n).grad.toFloatArray(), (v) => v / scale), F(`grad.${n}`).toFloatArray()));
  check(`${amp} every gradient (worst, rel to max)`, g, 8 * ulp);
  for (const p of params.values()) p.dispose();

  const p2 = fresh();
  const list = [...p2.values()];
  const o = new S.AdamW(list, { lr: opt.lr, betas: opt.betas, eps: opt.eps, weightDecay: opt.weight_decay });
  const scaler = new S.GradScaler({ initScale: scale, growthInterval: 1000, enabled: amp === "float16" });
  const ref = F("step_losses").toFloatArray();
  let worstLoss = 0, stepped = 0;
  for (let s = 0; s < 3; s++) {
    o.zeroGrad();
    S.tidy(() => {
      const l = S.autocast(amp, () => loss(cfg, p2, ids, targets));
      worstLoss = Math.max(worstLoss, Math.abs(l.item() - ref[s]));
      scaler.scaleLoss(l).backward();
    });
    scaler.unscale(list);
    S.clipGradNorm(list, opt.clip_grad_norm);
    if (scaler.step(o)) stepped++;
    scaler.update();
  }
  check(`${amp} 3-step losses`, worstLoss, 4 * ulp);
  if (stepped !== 3) fail({ check: `${amp} steps taken`, stepped });
  let close = 0, total = 0, sumAbs = 0, gap = 0;
  for (const n of names) {
    const a = p2.get(n).toFloatArray(), b = F(`step3.${n}`).toFloatArray(), f = base.tensors.get(`step3.${n}`).toFloatArray();
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (d <= opt.lr / 10) close++;
      sumAbs += d;
      gap += Math.abs(f[i] - b[i]);
      total++;
    }
  }
  check(`${amp} parameters after 3 steps: fraction farther than lr/10 from PyTorch`, 1 - close / total, amp === "bfloat16" ? 0.1 : 0.01);
  check(`${amp} parameters after 3 steps: mean |diff| (PyTorch f32 vs ${amp}: ${(gap / total).toExponential(2)})`, sumAbs / total,
    Math.max(1.5 * (gap / total), opt.lr / 100));
  o.dispose();
  for (const p of p2.values()) p.dispose();
}
report({ memory: S.memory().devices });
exit();
