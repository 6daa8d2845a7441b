// `seekr devices`: what @seekr/tensor can compute on — CPU threads, GEMM backend, SIMD, CUDA (compiled, usable, why not).

import type { DeviceReport } from "@seekr/tensor";
import { CliError } from "../errors.js";
import type { CliIO } from "../main.js";
import { textTable } from "../table.js";

/** Loads @seekr/tensor (and its native addon) only when asked, so that --help works without it. */
async function deviceReport(): Promise<DeviceReport> {
  let tensor: typeof import("@seekr/tensor");
  try {
    tensor = await import("@seekr/tensor");
  } catch (e) {
    throw new CliError(`the tensor engine could not be loaded: ${(e as Error).message}`);
  }
  return tensor.devices();
}

/** The device report as readable text. */
export function formatDevices(r: DeviceReport): string {
  const yes = (b: boolean): string => (b ? "yes" : "no");
  const kv: Array<[string, string] | string> = [
    "CPU",
    ["threads", String(r.cpu.threads)],
    ["GEMM backend", r.cpu.gemm],
    ["SIMD", r.cpu.simd],
    "CUDA",
    ["compiled", yes(r.cuda.compiled)],
    ["available", yes(r.cuda.available)],
  ];
  if (r.cuda.reason) kv.push([r.cuda.available ? "note" : "why not", r.cuda.reason]);
  kv.push(["runtime", r.cuda.runtimeVersion ?? "-"], ["driver", r.cuda.driverVersion ?? "-"], ["gemm", r.cuda.gemm]);
  const keyWidth = Math.max(...kv.map((x) => (typeof x === "string" ? 0 : x[0].length)));
  const lines = kv.map((x) => (typeof x === "string" ? x : `  ${x[0].padEnd(keyWidth)}  ${x[1]}`));
  lines.push("", "Devices");
  const rows: string[][] = [["device", "name", "compute capability", "memory", "SMs"]];
  rows.push(["cpu", `${r.cpu.threads} threads, ${r.cpu.simd}`, "-", "-", "-"]);
  for (const d of r.cuda.devices) rows.push([d.device, d.name, d.computeCapability, `${d.totalMemoryGiB} GiB`, String(d.multiprocessors)]);
  lines.push(...textTable(rows, { header: true, align: ["l", "l", "l", "r", "r"] }).map((l) => `  ${l}`));
  lines.push("", `--device auto uses: ${r.preferred}`);
  return `${lines.join("\n")}\n`;
}

export async function commandDevices(opts: { json?: boolean }, io: Pick<CliIO, "stdout">): Promise<number> {
  const report = await deviceReport();
  io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatDevices(report));
  return 0;
}
