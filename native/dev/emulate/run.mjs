// Builds and runs the host emulation of src/cuda/elementwise.cu (no GPU needed): rewrites each launch
// kernel<<<grid, block[, 0, SEEKR_STREAM]>>>(args) into emu_launch(name, grid, block, [&] { kernel(args); }), compiles
// it with g++ against CUDA's headers (host mode) and the CPU kernels, and runs elementwise_main.cpp's comparisons.
// Usage: node dev/emulate/run.mjs (CUDA_HOME, default /usr/local/cuda, for cuda_bf16.h / cuda_fp16.h).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "..", "..", "src");
const cuda = process.env.CUDA_HOME ?? "/usr/local/cuda";
const out = mkdtempSync(join(tmpdir(), "seekr-emu-"));
const launch = /([A-Za-z_]\w*(?:<[^;<>]*(?:<[^;<>]*>[^;<>]*)*>)?)<<<([\s\S]*?), (kThreads)(?:, 0, SEEKR_STREAM)?>>>\(([\s\S]*?)\);\n/g;
let count = 0;
const text = readFileSync(join(src, "cuda", "elementwise.cu"), "utf8").replace(launch, (_, name, grid, block, args) => {
  count++;
  return `emu_launch("${name.split("<")[0]}", ${grid}, ${block}, [&] { ${name}(${args}); });\n`;
});
if (text.includes("<<<")) throw new Error("emulate: a launch was not rewritten");
writeFileSync(join(out, "elementwise_emu.cpp"), text);
const exe = join(out, "emu");
execFileSync("g++", [
  "-std=c++17", "-O1", "-w", `-I${here}`, `-I${src}`, `-I${join(cuda, "include")}`, "-include", join(here, "prelude.h"),
  "-x", "c++", join(out, "elementwise_emu.cpp"), join(here, "elementwise_main.cpp"),
  join(src, "cpu", "elementwise.cpp"), join(src, "common", "threadpool.cpp"), join(src, "common", "core.cpp"), "-lpthread", "-o", exe,
], { stdio: "inherit" });
console.log(`emulate: ${count} launches rewritten; built ${exe}`);
execFileSync(exe, { stdio: "inherit" });
