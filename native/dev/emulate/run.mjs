// Builds and runs the host emulation of a CUDA kernel file (no GPU needed): src/cuda/<name>.cu is rewritten into host
// C++ (each launch kernel<<<grid, block[, smem, stream]>>>(args); becomes emu_launch<&kernel>(grid, block, smem, args);
// each `__shared__ T v[n];` a reference into the block's shared memory; each inline PTX statement a call of its host
// emulation in ptx.h), compiled with g++ against CUDA's headers (host mode) and prelude.h, linked with the fiber
// scheduler (emu.cpp), the CPU kernels (src/cpu/<name>.cpp) and dev/emulate/<name>_main.cpp, which compares the two and
// prints what ran.
//
// Usage: node dev/emulate/run.mjs [elementwise (default) | nn | optim | attention | selftest | all | <name> ...]: <name> builds
//   dev/emulate/<name>.cu if there is one, else src/cuda/<name>.cu (attention: attention_tc.cu and attention.cu), with
//   dev/emulate/<name>_main.cpp (all: selftest, elementwise, nn, optim, attention).
//   CUDA_HOME (default /usr/local/cuda): where include/cuda_bf16.h is; without it the run is skipped (exit 0, a
//   message), or fails with SEEKR_EMU_REQUIRE=1. SEEKR_EMU_JOBS: parallel compiles (default: the CPU count).
//   Objects are kept in SEEKR_EMU_BUILD (default $TMPDIR/seekr-emu-<uid>) and rebuilt when a source or header they
//   read changed. SEEKR_EMU_ORDER=forward|reverse|random (SEEKR_EMU_SEED): the order threads run in (emu.cpp).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "..", "..", "src");
const cuda = process.env.CUDA_HOME ?? "/usr/local/cuda";
const jobs = Math.max(1, Number(process.env.SEEKR_EMU_JOBS) || availableParallelism());
const buildRoot = process.env.SEEKR_EMU_BUILD ?? join(tmpdir(), `seekr-emu-${userInfo().uid}`);

// ---- source rewriting -------------------------------------------------------------------------------------------
// Comments blanked (newlines kept, so line numbers still match the .cu file); string and character literals kept.
function stripComments(s) {
  let out = "";
  for (let i = 0; i < s.length; ) {
    const c = s[i];
    if (c === "/" && s[i + 1] === "/") {
      const e = s.indexOf("\n", i);
      const end = e < 0 ? s.length : e;
      out += " ".repeat(end - i);
      i = end;
    } else if (c === "/" && s[i + 1] === "*") {
      const e = s.indexOf("*/", i + 2);
      const end = e < 0 ? s.length : e + 2;
      out += s.slice(i, end).replace(/[^\n]/g, " ");
      i = end;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < s.length && s[j] !== c) j += s[j] === "\\" ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j + 1;
    } else if (c === "R" && s[i + 1] === '"' && !/\w/.test(s[i - 1] ?? "")) {  // raw string literal R"d(...)d"
      const open = s.indexOf("(", i);
      const marker = `)${s.slice(i + 2, open)}"`;
      const end = s.indexOf(marker, open) + marker.length;
      out += s.slice(i, end);
      i = end;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const lineOf = (s, i) => s.slice(0, i).split("\n").length;

// Index just past the bracket matching s[open] (( [ {); string literals skipped.
function matching(s, open) {
  const pairs = { "(": ")", "[": "]", "{": "}" };
  const stack = [];
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'") {
      for (i++; i < s.length && s[i] !== c; i += s[i] === "\\" ? 2 : 1);
    } else if (pairs[c]) stack.push(pairs[c]);
    else if (c === ")" || c === "]" || c === "}") {
      if (stack.pop() !== c) throw new Error(`emulate: unbalanced '${c}' at line ${lineOf(s, i)}`);
      if (!stack.length) return i + 1;
    }
  }
  throw new Error(`emulate: no match for '${s[open]}' at line ${lineOf(s, open)}`);
}

// Top-level comma split (parentheses, brackets, braces).
function splitTop(s) {
  const parts = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === "," && depth === 0) {
      parts.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = s.slice(start).trim();
  if (last || parts.length) parts.push(last);
  return parts;
}

// kernel<<<grid, block[, smem[, stream]]>>>(args); -> emu_launch<&kernel>(grid, block, smem, args); (the stream dropped:
// launches run in order, to completion)
let launchCount = 0;
function rewriteLaunches(s, kernels) {
  let out = "", from = 0;
  for (let at = s.indexOf("<<<"); at >= 0; at = s.indexOf("<<<", from)) {
    // the kernel's name, with its template arguments: back over <...> (balanced), then an identifier
    let b = at;
    while (/\s/.test(s[b - 1])) b--;
    if (s[b - 1] === ">") {
      let depth = 0;
      for (b--; b >= 0; b--) {
        if (s[b] === ">") depth++;
        else if (s[b] === "<" && --depth === 0) break;
      }
    }
    const id = /[A-Za-z_][\w:]*$/.exec(s.slice(0, b));
    if (!id) throw new Error(`emulate: no kernel name before the launch at line ${lineOf(s, at)}`);
    const start = b - id[0].length;
    const name = s.slice(start, at).trim();
    const close = s.indexOf(">>>", at);
    const cfg = splitTop(s.slice(at + 3, close));
    if (cfg.length < 2 || cfg.length > 4) throw new Error(`emulate: launch at line ${lineOf(s, at)}: <<<${cfg.join(", ")}>>>`);
    let p = close + 3;
    while (/\s/.test(s[p])) p++;
    if (s[p] !== "(") throw new Error(`emulate: launch at line ${lineOf(s, at)}: no argument list`);
    const end = matching(s, p);
    let q = end;
    while (/\s/.test(s[q])) q++;
    if (s[q] !== ";") throw new Error(`emulate: launch at line ${lineOf(s, at)}: not a statement`);
    const args = s.slice(p + 1, end - 1);
    const base = id[0].split("::").pop();
    kernels.add(base);
    launchCount++;
    out += s.slice(from, start) + `emu_launch<&${name} >(${cfg[0]}, ${cfg[1]}, ${cfg[2] ?? 0}${args.trim() ? ", " + args : ""});`;
    from = q + 1;
  }
  return out + s.slice(from);
}

// __shared__ T name[dims]; -> EMU_SHARED((T[dims]), name, align); extern __shared__ T name[]; -> EMU_DYNAMIC_SHARED(T, name);
function rewriteShared(s) {
  return s.replace(/(\bextern\s+)?\b__shared__\b([^;]*);/g, (all, ext, decl, off) => {
    let align = 0;
    decl = decl.replace(/\b(?:alignas|__align__)\s*\(\s*(\d+)\s*\)/g, (_, n) => { align = Math.max(align, Number(n)); return ""; });
    const m = /^\s*(.*?)\s*\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$/s.exec(decl);
    if (!m || !m[1] || /[,=]/.test(decl)) throw new Error(`emulate: __shared__ declaration at line ${lineOf(s, off)} not understood: ${all}`);
    if (ext) {
      if (!/^\[\s*\]$/.test(m[3].trim())) throw new Error(`emulate: extern __shared__ at line ${lineOf(s, off)}: not T name[]: ${all}`);
      return `EMU_DYNAMIC_SHARED(${m[1]}, ${m[2]});`;
    }
    return `EMU_SHARED((${m[1]} ${m[3].replace(/\s+/g, " ").trim()}), ${m[2]}, ${align});`;
  });
}

// Inline PTX: each asm statement `asm [volatile] ("<one instruction>" : outputs : inputs [: clobbers]);` becomes a call
// of the host function named after the instruction (ptx.h: "mma.sync.aligned.m16n8k16..." -> emu_ptx_mma_sync_aligned_
// m16n8k16_...) with the instruction's operands in their PTX order, braces and brackets flattened: an output operand
// (constraint "=x" / "+x") is passed as an lvalue the function writes, an input (or a "+x" operand read again, as mma's
// C = D) as a value, an immediate as written. An instruction ptx.h does not emulate is an error naming the line.
const ptxKnown = new Set([
  "ex2.approx.ftz.f32",
  "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
  "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
  ...["x1", "x2", "x4"].flatMap((n) => [`ldmatrix.sync.aligned.m8n8.${n}.shared.b16`, `ldmatrix.sync.aligned.m8n8.${n}.trans.shared.b16`]),
  "cp.async.cg.shared.global",
  "cp.async.ca.shared.global",
  "cp.async.commit_group",
  "cp.async.wait_group",
  "cp.async.wait_all",
]);

// Top-level split on `sep` (outside brackets and string literals); "::" gives an empty part between.
function splitOn(s, sep) {
  const parts = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'") for (i++; i < s.length && s[i] !== c; i += s[i] === "\\" ? 2 : 1);
    else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === sep && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim());
}

function ptxCall(body, line) {
  const where = `inline asm at line ${line}`;
  const [tpl, outs = "", ins = ""] = splitOn(body, ":");
  // the template: adjacent string literals
  let text = "";
  const rest = tpl.replace(/"((?:[^"\\]|\\.)*)"/g, (_, lit) => {
    text += lit.replace(/\\(.)/g, (__, c) => ({ n: "\n", t: "\t" })[c] ?? c);
    return "";
  });
  if (rest.trim()) throw new Error(`emulate: ${where}: the template is not a string literal`);
  const operands = [];
  for (const [list, output] of [[outs, true], [ins, false]])
    for (const o of list ? splitOn(list, ",") : []) {
      const m = /^"([=+&]*)[a-z]+"\s*\(([\s\S]*)\)$/.exec(o);
      if (!m) throw new Error(`emulate: ${where}: operand ${o} not understood`);
      operands.push({ expr: `(${m[2].trim()})`, output });
    }
  const insn = text.trim().replace(/;\s*$/, "");
  if (insn.includes(";")) throw new Error(`emulate: ${where}: more than one instruction (${insn})`);
  const name = /^[\w.]+/.exec(insn)?.[0] ?? "";
  if (!ptxKnown.has(name)) throw new Error(`emulate: ${where}: ${name || insn} has no host emulation (ptx.h)`);
  const args = [];
  for (const op of splitOn(insn.slice(name.length), ",").filter(Boolean))
    for (const item of op.replace(/^[{[]\s*|\s*[}\]]$/g, "").split(/\s*,\s*/)) {
      const ref = /^%(\d+)$/.exec(item);
      if (ref) {
        const o = operands[Number(ref[1])];
        if (!o) throw new Error(`emulate: ${where}: ${item} names no operand`);
        args.push(o.expr);
      } else if (/^-?\d+$/.test(item)) args.push(item);
      else throw new Error(`emulate: ${where}: operand ${item} of ${name} not understood`);
    }
  return `emu_ptx_${name.replace(/\./g, "_")}(${args.join(", ")})`;
}

function rewritePtx(s) {
  const re = /\basm\b\s*(?:(?:volatile|__volatile__)\b\s*)?\(/g;
  let out = "", from = 0;
  for (let m; (m = re.exec(s)); ) {
    const open = m.index + m[0].length - 1, close = matching(s, open);
    let q = close;
    while (/\s/.test(s[q])) q++;
    if (s[q] !== ";") throw new Error(`emulate: inline asm at line ${lineOf(s, m.index)} is not a statement`);
    const call = ptxCall(s.slice(open + 1, close - 1), lineOf(s, m.index));
    // the call on the asm's first line, its other lines kept blank (line numbers still match the .cu file)
    out += s.slice(from, m.index) + call + ";" + s.slice(m.index, q + 1).replace(/[^\n]/g, "");
    from = q + 1;
    re.lastIndex = q + 1;
  }
  return out + s.slice(from);
}

function rewrite(text) {
  const kernels = new Set();
  launchCount = 0;
  let s = rewriteLaunches(stripComments(text), kernels);
  s = rewritePtx(rewriteShared(s));
  if (s.includes("<<<")) throw new Error("emulate: a launch was not rewritten");
  return { text: s, kernels };
}

// ---- building -------------------------------------------------------------------------------------------------------
// Up to date: the object exists and is newer than every file its .d lists.
function fresh(obj, dep) {
  if (!existsSync(obj) || !existsSync(dep)) return false;
  const t = statSync(obj).mtimeMs;
  const files = readFileSync(dep, "utf8").replace(/\\\n/g, " ").split(/:\s/).slice(1).join(" ").split(/\s+/).filter(Boolean);
  return files.every((f) => existsSync(f) && statSync(f).mtimeMs <= t);
}

function compile(jobsList) {
  let next = 0, failed = null;
  const one = () => {
    if (failed || next >= jobsList.length) return Promise.resolve();
    const { args, obj } = jobsList[next++];
    return new Promise((resolve) => {
      const p = spawn("g++", args, { stdio: "inherit" });
      p.on("close", (code) => { if (code !== 0) failed = failed ?? `g++ failed for ${obj}`; resolve(); });
      p.on("error", (e) => { failed = failed ?? `g++: ${e.message}`; resolve(); });
    }).then(one);
  };
  return Promise.all(Array.from({ length: Math.min(jobs, jobsList.length) }, one)).then(() => { if (failed) throw new Error(failed); });
}

// Targets built from more than one kernel file or CPU reference (default: cu [name], cpu [name] where it exists):
// attention rewrites the tensor-core kernels and the float32 ones (cuda::attention_forward's tensor_cores path) and
// links the CPU attention with the GEMM it calls.
const targets = {
  attention: { cu: ["attention_tc", "attention"], cpu: ["attention", "gemm"] },
};

async function build(name) {
  const t = targets[name] ?? { cu: [name], cpu: [name] };
  const main = join(here, `${name}_main.cpp`);
  if (!existsSync(main)) throw new Error(`emulate: no ${main} (the comparisons to run)`);
  const out = join(buildRoot, name);
  mkdirSync(out, { recursive: true });
  const kernels = new Set();
  let launches = 0;
  const emuSrcs = t.cu.map((cuName) => {
    const local = join(here, `${cuName}.cu`);  // the emulator's own test kernels (selftest.cu), else a file of src/cuda
    const cu = existsSync(local) ? local : join(src, "cuda", `${cuName}.cu`);
    if (!existsSync(cu)) throw new Error(`emulate: no ${cu}`);
    const r = rewrite(readFileSync(cu, "utf8"));
    r.kernels.forEach((k) => kernels.add(k));
    launches += launchCount;
    const emuSrc = join(out, `${cuName}_emu.cpp`);
    if (!existsSync(emuSrc) || readFileSync(emuSrc, "utf8") !== r.text) writeFileSync(emuSrc, r.text);  // keep its mtime
    return emuSrc;
  });
  const inc = ["-std=c++17", "-w", `-I${here}`, `-I${src}`, `-I${join(cuda, "include")}`];
  const units = [
    ...emuSrcs.map((file) => ({ file, opt: "-O1", extra: ["-include", join(here, "prelude.h")] })),
    { file: join(here, "emu.cpp"), opt: "-O2", common: true },
    { file: join(here, "host_backend.cpp"), opt: "-O2", common: true },
    { file: main, opt: "-O1" },
    ...t.cpu.map((c) => join(src, "cpu", `${c}.cpp`)).filter(existsSync).map((file) => ({ file, opt: "-O2", common: true })),
    { file: join(src, "cpu", "convert.cpp"), opt: "-O2", common: true },  // host_backend's convert
    { file: join(src, "common", "threadpool.cpp"), opt: "-O2", common: true },
    { file: join(src, "common", "core.cpp"), opt: "-O2", common: true },
  ];
  const objs = [], todo = [];
  for (const u of units) {
    const base = u.file.split("/").pop().replace(/\.\w+$/, "");
    const dir = u.common ? join(out, "..", "common") : out;  // objects any target may link
    mkdirSync(dir, { recursive: true });
    const obj = join(dir, `${base}.o`), dep = join(dir, `${base}.d`);
    objs.push(obj);
    const args = [...inc, u.opt, ...(u.extra ?? []), "-MMD", "-MF", dep, "-c", u.file, "-o", obj];
    const flags = join(dir, `${base}.flags`);
    const same = existsSync(flags) && readFileSync(flags, "utf8") === args.join("\n");
    if (!same || !fresh(obj, dep)) {
      rmSync(obj, { force: true });  // a failed compile leaves no stale object behind
      todo.push({ args, obj });
      writeFileSync(flags, args.join("\n"));
    }
  }
  const t0 = performance.now();
  await compile(todo);
  const exe = join(out, "emu");
  const link = spawnSync("g++", [...objs, "-lpthread", "-o", exe], { stdio: "inherit" });
  if (link.status !== 0) throw new Error("emulate: link failed");
  console.log(`emulate ${name}: ${launches} launches of ${kernels.size} kernels rewritten; ${todo.length} of ${units.length} units compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s (${exe})`);
  return exe;
}

const known = ["selftest", "elementwise", "nn", "optim", "attention"];
let names = process.argv.slice(2);
if (!names.length) names = ["elementwise"];
if (names.includes("all")) names = known;
if (!existsSync(join(cuda, "include", "cuda_bf16.h"))) {
  const msg = `emulate: skipped: CUDA's headers not found (${join(cuda, "include", "cuda_bf16.h")}; set CUDA_HOME)`;
  if (process.env.SEEKR_EMU_REQUIRE === "1") throw new Error(msg);
  console.log(msg);
  process.exit(0);
}
let failed = 0;
for (const name of names) {
  const exe = await build(name);
  const t0 = performance.now();
  const r = spawnSync(exe, { stdio: "inherit" });
  console.log(`emulate ${name}: ${r.status === 0 ? "passed" : `FAILED (exit ${r.status ?? r.signal})`} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
