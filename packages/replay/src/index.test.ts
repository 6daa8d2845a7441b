// End-to-end test through the public API, following the README example (select, store, save, load, schedule).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selectQueryRows } from "@seekr/budget";
import { afterAll, describe, expect, it } from "vitest";
import * as api from "./index.js";
import {
  attentionRows,
  attentionSignal,
  loadMemory,
  ReplayMemory,
  ReplayScheduler,
  saveMemory,
  selectReplay,
  teacherProbs,
  topKLogits,
} from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "seekr-replay-e2e-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Example = { prompt: string; answer: string };

describe("@seekr/replay", () => {
  it("exports the documented API", () => {
    const names = Object.keys(api).sort();
    expect(names).toEqual(
      [
        "DEFAULT_REPLAY_RATIO",
        "FORMAT_VERSION",
        "HEADER_BYTES",
        "MAGIC",
        "MEMORY_FILE_NAME",
        "MIX_MODES",
        "ReplayMemory",
        "ReplayScheduler",
        "ReservoirSampler",
        "attentionRows",
        "attentionSignal",
        "bfloat16ToFloat32",
        "checkAttentionSignal",
        "checkJson",
        "checkLogitSignal",
        "denseTeacherProbs",
        "deriveSeed",
        "float16ToFloat32",
        "float32ToBFloat16",
        "float32ToFloat16",
        "fromBFloat16Bits",
        "fromFloat16Bits",
        "fullLogits",
        "interleave",
        "loadMemory",
        "memoryFilePath",
        "replayBatchesBefore",
        "replayCount",
        "saveMemory",
        "selectReplay",
        "teacherProbs",
        "toBFloat16Bits",
        "toFloat16Bits",
        "topKLogits",
      ].sort(),
    );
  });

  it("runs the README workflow", () => {
    // A finished task's training data and a stand-in for the teacher model θ_k.
    const train: Example[] = Array.from({ length: 500 }, (_, i) => ({ prompt: `question ${i}`, answer: `${i % 7}` }));
    const vocab = 32;
    const teacher = (example: Example) => {
      const seqLen = 6 + (example.prompt.length % 5);
      const answerPositions = 2;
      const logits = Float32Array.from({ length: answerPositions * vocab }, (_, j) => Math.sin(j + seqLen));
      const heads: Array<[number, number]> = [[3, 1], [7, 0]];
      const queryRows = selectQueryRows(seqLen, 4, example.prompt.length); // B_T = 4, drawn once
      const rows = new Float32Array(heads.length * queryRows.length * seqLen).fill(1 / seqLen);
      return { logits, answerPositions, heads, queryRows, rows, seqLen };
    };

    const memory = new ReplayMemory<Example>({ meta: { model: "tiny" } });
    const picked = selectReplay(train.length, { ratio: 0.01, seed: 1234 }); // 5 of 500
    expect(picked).toHaveLength(5);
    memory.addTask({
      id: "C-STANCE",
      samples: picked.map((i) => {
        const example = train[i] as Example;
        const t = teacher(example);
        return {
          record: example,
          index: i,
          logits: topKLogits(t.logits, t.answerPositions, vocab, 8),
          attention: attentionSignal({ queryRows: t.queryRows, heads: t.heads, keyLength: t.seqLen, rows: t.rows, dtype: "bf16" }),
        };
      }),
      meta: { ratio: 0.01, seed: 1234 },
    });

    const { path, bytes } = saveMemory(dir, memory);
    expect(bytes).toBe(memory.sizeOnDisk());
    const loaded = loadMemory<Example>(path);
    expect(loaded.tasks()).toEqual([{ id: "C-STANCE", name: "C-STANCE", position: 0, offset: 0, samples: 5 }]);

    // Learning the next task: 120 new examples, batch 16, replay interleaved.
    const scheduler = new ReplayScheduler({ newSamples: 120, replay: loaded, batchSize: 16, replayBatchSize: 2, seed: 1234 });
    const plan = scheduler.plan(0);
    expect(plan.batches.map((b) => (b.source === "new" ? "N" : "R")).join("")).toBe("NRNNNRNNNRN") // 8 new batches (120 / 16), 3 replay batches (5 / 2);
    let replayed = 0;
    for (const batch of plan.batches) {
      if (batch.source !== "replay") continue;
      for (const ref of batch.samples) {
        const { sample } = loaded.entry(ref.index);
        const probs = teacherProbs(sample.logits as api.LogitSignal);
        expect(probs.probs).toHaveLength(2 * 8);
        const rows = attentionRows(sample.attention as api.AttentionSignal);
        expect(rows.every((x) => x > 0 && x < 1)).toBe(true);
        replayed++;
      }
    }
    expect(replayed).toBe(5);
  });
});
