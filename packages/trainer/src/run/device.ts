// The run's device: the config's `device` ("auto", "cpu", "cuda", "cuda:N") resolved against what @seekr/tensor can use.

import { type Device, type DeviceReport, deviceName, devices, parseDevice } from "@seekr/tensor";

/**
 * Resolves a device setting: "auto" → devices().preferred (cuda:0 when CUDA is usable, else cpu); "cuda" / "cuda:N"
 * must be usable and exist, else the error says why (the engine's reason) and what to use instead.
 */
export function resolveRunDevice(setting: string, report: () => DeviceReport = devices): Device {
  if (setting === "auto") return parseDevice(report().preferred);
  let d: Device;
  try {
    d = parseDevice(setting);
  } catch {
    throw new Error(`device: expected "auto", "cpu", "cuda" or "cuda:N", got ${JSON.stringify(setting)}`);
  }
  if (d.type === "cpu") return d;
  const r = report();
  if (!r.cuda.available) {
    throw new Error(
      `device: ${JSON.stringify(setting)} was requested but CUDA is not available: ${r.cuda.reason || "no reason given"}; use --device cpu or auto (\`seekr devices\` shows what this machine has)`,
    );
  }
  const names = r.cuda.devices.map((x) => x.device);
  if (!names.includes(deviceName(d))) {
    throw new Error(`device: ${JSON.stringify(setting)} does not exist on this machine (CUDA devices: ${names.join(", ") || "none"})`);
  }
  return d;
}
