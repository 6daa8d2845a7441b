// Splitting --dotted.config.path=value overrides out of the command line.

import { describe, expect, it } from "vitest";
import { extractOverrides } from "./argv.js";
import { CliError } from "./errors.js";

describe("extractOverrides", () => {
  it("takes --a.b=value, --a.b value, --list[1].x=v and --set k=v, keeping everything else in order", () => {
    const r = extractOverrides(["run", "--config", "x.yaml", "--training.lr=1e-4", "--training.epochs", "2", "--methods[1].lambda2=100", "--set", "seed=7", "--set=device=cpu", "--verbose"]);
    expect(r.rest).toEqual(["run", "--config", "x.yaml", "--verbose"]);
    expect(r.overrides).toEqual([
      { path: "training.lr", value: "1e-4" },
      { path: "training.epochs", value: "2" },
      { path: "methods[1].lambda2", value: "100" },
      { path: "seed", value: "7" },
      { path: "device", value: "cpu" },
    ]);
  });

  it("keeps values with = and negative numbers as given", () => {
    expect(extractOverrides(["--data.path=a=b", "--training.lr", "-0.5"]).overrides).toEqual([
      { path: "data.path", value: "a=b" },
      { path: "training.lr", value: "-0.5" },
    ]);
  });

  it("leaves plain flags and everything after -- alone", () => {
    const r = extractOverrides(["run", "--seed", "3", "--", "--training.lr=1"]);
    expect(r.rest).toEqual(["run", "--seed", "3", "--", "--training.lr=1"]);
    expect(r.overrides).toEqual([]);
  });

  it("rejects an override without a value with a usage error (exit 2)", () => {
    expect(() => extractOverrides(["--training.lr"])).toThrow(CliError);
    expect(() => extractOverrides(["--training.lr", "--seed"])).toThrow(/--training.lr expects a value/);
    try {
      extractOverrides(["--set", "nonsense"]);
    } catch (e) {
      expect((e as CliError).exitCode).toBe(2);
      expect((e as Error).message).toMatch(/--set expects FIELD=VALUE/);
    }
  });
});
