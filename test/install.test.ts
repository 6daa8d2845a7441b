// Install as a user would: `npm pack` every published package, install the tarballs into an empty folder (the
// addon builds there from source by its install script), then run the `seekr` command and import the packages.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PUBLISHED = ["@seekr/native", "@seekr/tensor", "@seekr/model", "@seekr/budget", "@seekr/importance", "@seekr/replay", "@seekr/trainer"];

/** The environment without the npm_* variables of the `npm test` that runs us (they would leak workspace flags). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== "INIT_CWD") env[k] = v;
  return { ...env, ...extra };
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): string {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
  }
}

describe("npm pack + install in an empty folder", () => {
  it("installs the tarballs, builds the addon on install, runs `seekr --help` and a tiny experiment", () => {
    const work = mkdtempSync(join(tmpdir(), "seekr-install-"));
    try {
      const packs = join(work, "packs");
      const user = join(work, "user");
      sh("mkdir", ["-p", packs, user], work);
      sh("npm", ["pack", ...PUBLISHED.flatMap((p) => ["--workspace", p]), "--pack-destination", packs, "--silent"], root);
      const tarballs = readdirSync(packs).filter((f) => f.endsWith(".tgz")).sort();
      expect(tarballs).toHaveLength(PUBLISHED.length);
      // Every package ships its built output, and nothing of its tests.
      for (const t of tarballs) {
        const files = sh("tar", ["tzf", join(packs, t)], work).split("\n");
        expect(files.some((f) => f.includes(".test.")), `${t} ships test files`).toBe(false);
        if (t !== "seekr-native-0.1.0.tgz") expect(files, t).toContain("package/dist/index.js");
      }
      writeFileSync(join(user, "package.json"), `${JSON.stringify({ name: "seekr-user", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`);
      // SEEKR_CUDA=off keeps this test's compile short; the CUDA build is exercised by the repository's own install.
      sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs.map((t) => join(packs, t))], user, cleanEnv({ SEEKR_CUDA: "off" }));
      expect(existsSync(join(user, "node_modules/@seekr/native/build/Release/seekr.node"))).toBe(true);

      const help = sh("npx", ["--no-install", "seekr", "--help"], user);
      expect(help).toMatch(/Usage: seekr/);
      expect(help).toMatch(/\brun\b/);
      expect(sh("npx", ["--no-install", "seekr", "--version"], user).trim()).toBe("0.1.0");

      const out = sh(
        "npx",
        ["--no-install", "seekr", "run", "--plain", "--no-report", "-o", "runs/tiny", "--methods", "seqft,seekr", "--data.tasks=reverse,cipher", "--data.samplesPerTask=24", "--training.epochs=1", "--model.pretrain.steps=0"],
        user,
      );
      expect(out).toMatch(/method\s+OP\s+BWT/);
      const scores = JSON.parse(readFileSync(join(user, "runs/tiny/scores.json"), "utf8")) as { methods: Record<string, { matrix: (number | null)[][] }> };
      expect(Object.keys(scores.methods).sort()).toEqual(["seekr-1%", "seqft"]);
      for (const m of Object.values(scores.methods)) expect(m.matrix).toHaveLength(2);

      // The packages import by name from a user's ES module, with their types present.
      const probe = "import * as T from '@seekr/tensor'; import { selectHeads } from '@seekr/budget'; import { LlamaModel } from '@seekr/model'; import { runExperiment } from '@seekr/trainer';" +
        "const x = T.tensor([1, 2, 3]); console.log(JSON.stringify({ sum: T.sum(x).item(), sel: typeof selectHeads, model: typeof LlamaModel, run: typeof runExperiment }));";
      writeFileSync(join(user, "probe.mjs"), probe);
      expect(JSON.parse(sh(process.execPath, ["probe.mjs"], user))).toEqual({ sum: 6, sel: "function", model: "function", run: "function" });
      for (const p of PUBLISHED.slice(1)) expect(existsSync(join(user, "node_modules", p, "dist/index.d.ts")), p).toBe(true);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 600_000);
});
