// Devices ("cpu", "cuda:N"): parsing, the backend report (what was built, what is usable and why).
import { native } from "@seekr/native";

export interface Device {
  readonly type: "cpu" | "cuda";
  readonly index: number;
}
export type DeviceLike = Device | string;

export const CPU: Device = Object.freeze({ type: "cpu", index: 0 });

export function parseDevice(d: DeviceLike | undefined): Device {
  if (d === undefined) return CPU;
  if (typeof d !== "string") {
    if (d && (d.type === "cpu" || d.type === "cuda") && Number.isInteger(d.index) && d.index >= 0) return d;
    throw new Error(`invalid device ${JSON.stringify(d)}: expected "cpu", "cuda" or "cuda:N"`);
  }
  if (d === "cpu") return CPU;
  const m = /^cuda(?::(\d+))?$/.exec(d);
  if (!m) throw new Error(`invalid device "${d}": expected "cpu", "cuda" or "cuda:N"`);
  return Object.freeze({ type: "cuda", index: m[1] ? Number(m[1]) : 0 });
}

export function deviceName(d: Device): string {
  return d.type === "cpu" ? "cpu" : `cuda:${d.index}`;
}
export function sameDevice(a: Device, b: Device): boolean {
  return a.type === b.type && a.index === b.index;
}
export function deviceCode(d: Device): [number, number] {
  return [d.type === "cpu" ? 0 : 1, d.index];
}

export interface DeviceReport {
  cpu: { threads: number; gemm: string; simd: string };
  cuda: {
    compiled: boolean;
    available: boolean;
    reason: string;
    runtimeVersion: string | null;
    driverVersion: string | null;
    /** The GEMM behind CUDA matmuls: cuBLAS (loaded at run time) with its version, or Seekr's kernels and why. */
    gemm: string;
    devices: Array<{ device: string; name: string; computeCapability: string; totalMemoryGiB: number; multiprocessors: number }>;
  };
  /** The device `auto` resolves to. */
  preferred: string;
}

function cudaVersion(v: number): string | null {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : null;
}

/** What the addon was built with and which devices can be used now, with the reason when CUDA is not. */
export function devices(): DeviceReport {
  const info = native.backendInfo();
  const gemm = native.gemmInfo();
  return {
    cpu: { threads: info.threads, gemm: info.blas, simd: `${gemm.avx2 ? "avx2+fma" : "scalar (no AVX2/FMA)"}${gemm.bf16 ? ", avx512-bf16 (bf16 GEMM)" : ""}` },
    cuda: {
      compiled: info.cudaCompiled,
      available: info.cudaAvailable,
      reason: info.cudaReason,
      runtimeVersion: cudaVersion(info.cudaRuntimeVersion),
      driverVersion: cudaVersion(info.cudaDriverVersion),
      gemm: info.cudaGemm,
      devices: info.cudaDevices.map((d) => ({
        device: d.device,
        name: d.name,
        computeCapability: d.computeCapability,
        totalMemoryGiB: Math.round((d.totalMemory / 2 ** 30) * 10) / 10,
        multiprocessors: d.multiprocessors,
      })),
    },
    preferred: info.cudaAvailable && info.cudaDevices.length > 0 ? "cuda:0" : "cpu",
  };
}

/** Resolves "auto" to cuda:0 when usable, else cpu; other names are parsed. */
export function resolveDevice(d: DeviceLike | "auto" | undefined): Device {
  if (d === "auto") return parseDevice(devices().preferred);
  return parseDevice(d);
}

/** Sets the number of CPU worker threads used by the kernels. */
export function setThreads(n: number): void {
  native.setThreads(n);
}
