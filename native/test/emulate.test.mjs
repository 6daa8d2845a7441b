// The host emulation of the CUDA kernel files (dev/emulate/run.mjs all: the emulator's own checks, elementwise.cu,
// nn.cu, optim.cu and the tensor-core attention_tc.cu, distillation included, against the CPU kernels), no GPU needed: g++ and CUDA's headers
// (CUDA_HOME, default /usr/local/cuda). Skipped, saying why, where either is missing or SEEKR_EMU=off; about 45 s on 2
// cores from a clean build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const cuda = process.env.CUDA_HOME ?? "/usr/local/cuda";
const header = join(cuda, "include", "cuda_bf16.h");
const skip =
  process.env.SEEKR_EMU === "off" ? "SEEKR_EMU=off"
  : !existsSync(header) ? `no CUDA headers (${header}; set CUDA_HOME): the host emulation of the CUDA kernels needs them`
  : spawnSync("g++", ["--version"]).status !== 0 ? "no g++: the host emulation of the CUDA kernels needs it"
  : false;

test("host emulation of the CUDA kernels (emulator selftest, elementwise.cu, nn.cu, optim.cu, attention_tc.cu) agrees with the CPU kernels", { skip, timeout: 600_000 }, () => {
  const r = spawnSync(process.execPath, [join(here, "..", "dev", "emulate", "run.mjs"), "all"], {
    encoding: "utf8",
    // its own build folder: a run.mjs started by hand meanwhile does not share objects with it
    env: { ...process.env, SEEKR_EMU_REQUIRE: "1", SEEKR_EMU_BUILD: join(tmpdir(), `seekr-emu-test-${userInfo().uid}`) },
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, `run.mjs all exited with ${r.status ?? r.signal}:\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`);
  assert.match(r.stdout, /emulate nn: passed/);
  assert.match(r.stdout, /emulate attention: passed/);
  // the tensor-core distillation ran (forward and backward, dK) and was compared
  assert.match(r.stdout, /distill_rows_tc_kernel<OpBF16, 64, true>: [1-9]/);
  assert.match(r.stdout, /distill_dk_tc_kernel<OpF16, 128>: [1-9]/);
  assert.match(r.stdout, /distill dk bf16->bf16 +[1-9]\d* values/);
});
