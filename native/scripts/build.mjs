// Builds the addon with cmake-js; forwards SEEKR_CUDA / SEEKR_BLAS / SEEKR_CUDA_ARCHS and explains failures.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const cmakeJs = join(dirname(require.resolve("cmake-js/package.json")), "bin", "cmake-js");

const which = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
if (!which("cmake")) {
  console.error("@seekr/native: cmake was not found. Install it (Debian: apt-get install cmake) and run npm install again.");
  process.exit(1);
}
if (!which("c++") && !which("g++") && !which("clang++")) {
  console.error("@seekr/native: no C++ compiler was found. Install one (Debian: apt-get install g++) and run npm install again.");
  process.exit(1);
}

const args = [cmakeJs, "compile", "--out", "build"];
const cuda = process.env.SEEKR_CUDA ?? "auto";
const blas = process.env.SEEKR_BLAS ?? "auto";
args.push(`--CDSEEKR_CUDA=${cuda}`, `--CDSEEKR_BLAS=${blas}`);
if (process.env.SEEKR_CUDA_ARCHS) args.push(`--CDSEEKR_CUDA_ARCHS=${process.env.SEEKR_CUDA_ARCHS}`);
if (!process.env.CMAKE_BUILD_PARALLEL_LEVEL) process.env.CMAKE_BUILD_PARALLEL_LEVEL = "2";
const res = spawnSync(process.execPath, args, { cwd: here, stdio: "inherit", env: process.env });
if (res.status !== 0) {
  console.error(
    "\n@seekr/native: the addon failed to build. It needs cmake (>= 3.18) and a C++17 compiler;" +
      " OpenBLAS (libopenblas-dev) and CUDA (nvcc) are optional." +
      " Set SEEKR_CUDA=off to skip CUDA, SEEKR_BLAS=off to skip OpenBLAS.",
  );
  process.exit(res.status ?? 1);
}
if (!existsSync(join(here, "build", "Release", "seekr.node"))) {
  console.error("@seekr/native: cmake-js finished but build/Release/seekr.node is missing.");
  process.exit(1);
}
