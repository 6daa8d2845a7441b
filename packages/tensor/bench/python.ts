// Which Python runs the PyTorch anchors: $SEEKR_PYTHON, else the first of `python3` on PATH and Debian's
// /usr/bin/python3 that imports torch (a GPU machine's python3 may be a virtual environment; this machine's PyTorch is
// Debian's python3-torch). With cuda, the interpreter must also see a GPU.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const found = new Map<boolean, string | null>();

export function torchPython(cuda = false): string | null {
  if (found.has(cuda)) return found.get(cuda)!;
  const candidates = process.env.SEEKR_PYTHON ? [process.env.SEEKR_PYTHON] : ["python3", "/usr/bin/python3"];
  const probe = cuda ? "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" : "import torch";
  let hit: string | null = null;
  for (const py of candidates) {
    if (py.startsWith("/") && !existsSync(py)) continue;
    if (spawnSync(py, ["-c", probe], { encoding: "utf8" }).status === 0) {
      hit = py;
      break;
    }
  }
  found.set(cuda, hit);
  return hit;
}

export const NO_TORCH = "skipped: PyTorch is not installed (apt-get install python3-torch, or SEEKR_PYTHON=/path/to/python3)";
