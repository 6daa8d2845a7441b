// Progress display: plain lines when not a TTY (rate-limited, 1-based display of 0-based counters), ETA, TTY bars.

import { describe, expect, it } from "vitest";
import type { RunEvent as TrainerEvent } from "../run/events.js";
import { formatDuration, ProgressReporter } from "./progress.js";
import { capture } from "./testing.js";

describe("formatDuration", () => {
  it("prints seconds, minutes and hours compactly", () => {
    expect(formatDuration(4_400)).toBe("4s");
    expect(formatDuration(245_000)).toBe("4m05s");
    expect(formatDuration(3_725_000)).toBe("1h02m");
    expect(formatDuration(null)).toBe("?");
    expect(formatDuration(Number.NaN)).toBe("?");
  });
});

describe("plain progress (not a TTY)", () => {
  it("prints one line per event of interest: starts, the first and each epoch's last step, evals, ends", () => {
    const out = capture(false);
    let now = 0;
    const p = new ProgressReporter(out, { methods: ["seqft", "seekr-1%"], tasks: ["reverse", "sort"], now: () => now, intervalMs: 60_000 });
    p.handle({ type: "method-start", method: "seqft" });
    p.handle({ type: "task-start", method: "seqft", task: "reverse", taskIndex: 0, epochs: 2, steps: 10 });
    for (let e = 0; e < 2; e++) {
      for (let s = 0; s < 10; s++) {
        now += 1000;
        p.handle({ type: "step", method: "seqft", task: "reverse", taskIndex: 0, epoch: e, epochs: 2, step: s + 1, steps: 10, loss: 2 - (e * 10 + s) / 20 });
      }
    }
    p.handle({ type: "eval", method: "seqft", taskIndex: 0, scores: [97.5, null] });
    p.handle({ type: "task-end", method: "seqft", taskIndex: 0 });
    p.handle({ type: "checkpoint", method: "seqft", path: "/runs/x/checkpoints/seqft-0" });
    p.handle({ type: "done" });
    const lines = out.text.trimEnd().split("\n");
    expect(lines).toEqual([
      "== seqft 1/2: 2 tasks",
      "[seqft] task 1/2 reverse: 2 epochs x 10 steps",
      // 1 of 40 planned steps (2 methods × 2 tasks × 20) done after 0 s of training: no estimate yet.
      "[seqft 1/2] task 1/2 reverse | epoch 1/2 | step 1/10 | loss 2.0000 | ETA ?",
      // 9 steps in 9 s since the first one, 70 of 80 planned steps left → 70 s.
      "[seqft 1/2] task 1/2 reverse | epoch 1/2 | step 10/10 | loss 1.5500 | ETA 1m10s",
      "[seqft 1/2] task 1/2 reverse | epoch 2/2 | step 10/10 | loss 1.0500 | ETA 1m00s",
      "[seqft] eval after task 1/2 reverse: reverse 97.5",
      "[seqft] checkpoint saved: /runs/x/checkpoints/seqft-0",
    ]);
    expect(out.text).not.toMatch(/\x1b/);
  });

  it("prints a step line at most once per interval in between", () => {
    const out = capture(false);
    let now = 0;
    const p = new ProgressReporter(out, { now: () => now, intervalMs: 5_000 });
    p.handle({ type: "task-start", method: "m", task: "t", taskIndex: 0, tasks: 1, epochs: 1, steps: 100 });
    for (let s = 0; s < 100; s++) {
      now += 1000;
      p.handle({ type: "step", method: "m", taskIndex: 0, epoch: 0, step: s + 1, loss: 1 });
    }
    const stepLines = out.text.split("\n").filter((l) => l.includes("| step "));
    // First step, then every 5 s (20 lines over 100 s), and the last step.
    expect(stepLines.length).toBeGreaterThanOrEqual(20);
    expect(stepLines.length).toBeLessThanOrEqual(22);
    expect(stepLines[stepLines.length - 1]).toContain("step 100/100");
  });

  it("shows 0-based epochs and task indices 1-based, steps (1-based) as given", () => {
    const out = capture(false);
    const p = new ProgressReporter(out, { intervalMs: 0, now: () => 0 });
    p.handle({ type: "step", method: "m", task: "t", taskIndex: 1, tasks: 3, epoch: 0, epochs: 1, step: 5, steps: 5, loss: 0.5 });
    expect(out.text).toContain("[m] task 2/3 t | epoch 1/1 | step 5/5 | loss 0.5000");
    expect(p.fractionDone()).toBeCloseTo(2 / 3);
  });
});

describe("the trainer's events (src/run/events.ts)", () => {
  it("pre-training, baseline, 1-based steps with taskStep/totalSteps, a resumed method: lines and an ETA from this session only", () => {
    const out = capture(false);
    let now = 0;
    const reporter = new ProgressReporter(out, { methods: ["seqft", "replay-1%"], now: () => now, intervalMs: 1e9 });
    // Typed as the trainer's events: every one of them must be one the reporter takes.
    const p = { handle: (e: TrainerEvent) => reporter.handle(e), eta: () => reporter.eta() };
    p.handle({ type: "pretrain", phase: "start", step: 0, steps: 100, loss: null, lr: null, cached: false, key: "" });
    for (let s = 1; s <= 100; s++) p.handle({ type: "pretrain", phase: "step", step: s, steps: 100, loss: 5 / s, lr: 1e-3, cached: false, key: "" });
    p.handle({ type: "pretrain", phase: "end", step: 100, steps: 100, loss: 0.05, lr: null, cached: false, key: "k" });
    p.handle({ type: "baseline", scores: { reverse: 0, sort: 2.5 } });
    p.handle({ type: "method-end", method: "seqft", matrix: [], op: 40, bwt: -50, forgetting: 50, fwt: null, seconds: 10, skipped: true });
    p.handle({ type: "method-start", method: "replay-1%", kind: "replay", methodIndex: 1, methods: 2, tasks: ["reverse", "sort"], epochs: 2, resumed: true });
    p.handle({ type: "task-start", method: "replay-1%", task: "sort", taskIndex: 1, tasks: 2, epochs: 2, steps: 5, totalSteps: 10, resumed: true });
    // Resumed at epoch 1 (0-based), step 3 of 5: taskStep 8 of 10 next.
    for (const [step, taskStep] of [[3, 8], [4, 9], [5, 10]] as const) {
      now += 2000;
      p.handle({ type: "step", method: "replay-1%", task: "sort", taskIndex: 1, tasks: 2, epoch: 1, epochs: 2, step, steps: 5, taskStep, totalSteps: 10, loss: 0.5, parts: {}, lr: 1e-3, elapsed: 1 });
      if (taskStep === 9) expect(p.eta()).toBe(2000);
    }
    p.handle({ type: "eval", method: "replay-1%", task: "sort", taskIndex: 1, phase: "task", scores: { reverse: 55.5, sort: 99 }, row: [55.5, 99] });
    p.handle({ type: "checkpoint", method: "replay-1%", path: "/r/checkpoints/replay-1%/state.json", position: { taskIndex: 2, epoch: 0, step: 0, phase: "train" }, reason: "task" });
    p.handle({ type: "method-end", method: "replay-1%", matrix: [], op: 77.25, bwt: -5.5, forgetting: 5.5, fwt: null, seconds: 30, skipped: false });
    p.handle({ type: "done", interrupted: false, output: "/r", seconds: 40 });
    expect(out.text.trimEnd().split("\n")).toEqual([
      "Pre-training the base model: 100 steps (once; cached for later runs)",
      "[pretrain] step 1/100 | loss 5.0000",
      "[pretrain] step 100/100 | loss 0.0500",
      "Base model ready | loss 0.0500",
      "Base model scores (before any task): reverse 0.0, sort 2.5",
      "[seqft] already finished in the resumed run",
      "== replay-1% 2/2: 2 tasks (resumed)",
      "[replay-1%] task 2/2 sort: 2 epochs x 5 steps (resumed)",
      "[replay-1% 2/2] task 2/2 sort | epoch 2/2 | step 3/5 | loss 0.5000 | ETA ?",
      "[replay-1% 2/2] task 2/2 sort | epoch 2/2 | step 5/5 | loss 0.5000 | ETA 0s",
      "[replay-1%] eval after task 2/2 sort: reverse 55.5, sort 99.0",
      "[replay-1%] checkpoint saved: /r/checkpoints/replay-1%/state.json",
      "[replay-1%] finished in 6s | OP 77.25 | BWT -5.50",
    ]);
  });
});

describe("TTY progress", () => {
  it("draws progress bars (with ANSI control) and keeps log lines above them", async () => {
    const out = capture(true);
    out.columns = 120;
    const p = new ProgressReporter(out, { methods: ["seqft"], tasks: ["reverse"], now: () => 0 });
    p.handle({ type: "method-start", method: "seqft" });
    p.handle({ type: "task-start", method: "seqft", task: "reverse", taskIndex: 0, epochs: 1, steps: 4 });
    p.handle({ type: "step", method: "seqft", task: "reverse", taskIndex: 0, epoch: 0, step: 1, steps: 4, loss: 1.25 });
    await new Promise((r) => setTimeout(r, 200));
    p.stop();
    expect(out.text).toMatch(/\x1b\[/);
    expect(out.text).toContain("task 1/1 reverse");
    expect(out.text).toContain("loss 1.2500");
    expect(out.text).toContain("== seqft");
    expect(out.text).toMatch(/[█░]/);
  });
});
