// Addon smoke tests with node's own runner: it loads, reports its backends, and CUDA fails with clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { native } from "../index.js";

test("the addon exposes the kernel table", () => {
  for (const fn of ["alloc", "dispose", "upload", "download", "matmul", "attention", "adamw", "backendInfo"]) {
    assert.equal(typeof native[fn], "function", fn);
  }
});

test("backendInfo says what was built and why CUDA is or is not usable", () => {
  const info = native.backendInfo();
  assert.ok(info.threads >= 1);
  assert.equal(typeof info.blas, "string");
  assert.equal(typeof info.cudaCompiled, "boolean");
  assert.equal(typeof info.cudaReason, "string");
  assert.ok(info.cudaReason.length > 0);
  if (!info.cudaAvailable) assert.equal(info.cudaDevices.length, 0);
});

test("a CPU buffer round-trips through upload/download and is freed by dispose", () => {
  const before = native.memory()[0].bytes;
  const h = native.alloc(0, 0, 0, 4);
  native.upload(h, new Float32Array([1, 2, 3, 4]));
  assert.deepEqual([...native.download(h)], [1, 2, 3, 4]);
  native.dispose(h);
  assert.equal(native.memory()[0].bytes, before);
  assert.throws(() => native.download(h), /seekr\.download: .*disposed/);
});

test("selecting CUDA without a usable GPU is a JS Error, never a crash", { skip: native.backendInfo().cudaAvailable }, () => {
  assert.throws(() => native.alloc(1, 0, 0, 16), (e) => e instanceof Error && /CUDA/.test(e.message));
  assert.throws(() => native.alloc(1, 99, 0, 16), (e) => e instanceof Error && /seekr\.alloc/.test(e.message));
});

test("CUDA buffers round-trip when a GPU is present", { skip: !native.backendInfo().cudaAvailable }, () => {
  const h = native.alloc(1, 0, 0, 3);
  native.upload(h, new Float32Array([1.5, -2, 3]));
  const c = native.alloc(0, 0, 0, 3);
  native.copy(c, h);
  assert.deepEqual([...native.download(c)], [1.5, -2, 3]);
  native.dispose(h);
  native.dispose(c);
});
