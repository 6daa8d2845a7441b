// report.html in a real browser (headless Chromium via playwright-core): no console errors, no network, the SVG
// charts render with a size, the legend toggles a loss curve. Screenshots go to /tmp for a person to look at.
// Chromium: Debian's /usr/bin/chromium (or SEEKR_CHROMIUM). Skipped only when it is absent and CI is not set.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFixtureRun } from "./fixture.js";
import { writeReport } from "./index.js";

const CHROMIUM = process.env.SEEKR_CHROMIUM ?? "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
const inCI = Boolean(process.env.CI);
if (!present && !inCI) {
  console.warn(`[browser test skipped] Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set SEEKR_CHROMIUM); in CI this test runs and fails instead.`);
}

const SCREENSHOT = join(tmpdir(), "seekr-report.png");
const SCREENSHOT_COMPARISON = join(tmpdir(), "seekr-report-comparison.png");

describe.skipIf(!present && !inCI)("report.html in headless Chromium", () => {
  const tmp = mkdtempSync(join(tmpdir(), "seekr-browser-"));
  let browser: Browser;

  beforeAll(async () => {
    if (!present) throw new Error(`Chromium not found at ${CHROMIUM}: CI must install it (.ci/run: apt-get install -y chromium)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Opens a file, records console errors/warnings, page errors and any request that is not the file itself. */
  async function open(file: string): Promise<{ page: Page; problems: string[]; requests: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    page.on("request", (r) => {
      if (!r.url().startsWith("file://") && !r.url().startsWith("data:")) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready='1']", { timeout: 10_000 });
    return { page, problems, requests };
  }

  it("one run: renders every chart without console errors or network", async () => {
    const dir = join(tmp, "run");
    writeFixtureRun(dir);
    const file = writeReport([dir]);
    const { page, problems, requests } = await open(file);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);

    // 3 score matrices + 1 OP/BWT bar chart + 1 all-methods loss chart + 3 per-method loss charts + 5 importance maps
    // (+ 10 sensitivity/forgettability maps inside closed <details>).
    // (Page scripts as strings: this package compiles without the DOM library.)
    const charts = await page.evaluate<Array<{ cls: string | null; w: number; h: number; shapes: number }>>(`
      [...document.querySelectorAll("svg.chart")].map((svg) => {
        const box = svg.getBoundingClientRect();
        return { cls: svg.getAttribute("class"), w: box.width, h: box.height, shapes: svg.querySelectorAll("rect, path, line").length };
      })`);
    expect(charts.filter((c) => c.cls?.includes("score-matrix"))).toHaveLength(3);
    expect(charts.filter((c) => c.cls?.includes("bars"))).toHaveLength(1);
    expect(charts.filter((c) => c.cls?.includes("lines"))).toHaveLength(4);
    expect(charts.filter((c) => c.cls === "chart heatmap importance")).toHaveLength(5);
    for (const c of charts.filter((x) => !x.cls?.includes("importance-part"))) {
      expect(c.w).toBeGreaterThan(100);
      expect(c.h).toBeGreaterThan(100);
      expect(c.shapes).toBeGreaterThan(5);
    }
    // Heat-map cells are painted with the palette; selected heads are outlined.
    const fills = await page.evaluate<string[]>(`[...document.querySelectorAll("svg.score-matrix rect.cell:not(.missing)")].map((r) => getComputedStyle(r).fill)`);
    // 15 cells on and below the diagonal + 4 on the superdiagonal (the next task, before learning it).
    expect(fills.length).toBe(3 * 19);
    expect(new Set(fills).size).toBeGreaterThan(10);
    expect(await page.locator("svg.importance rect.selected").count()).toBeGreaterThan(0);
    expect(await page.locator("text=OP / BWT / forgetting").count()).toBe(1);

    // The legend hides and shows a loss curve.
    const first = page.locator("svg.lines").first();
    const curve = first.locator('path.series[data-series="0"]');
    await expect.poll(() => curve.isVisible()).toBe(true);
    await first.locator('.legend-item[data-series="0"]').click();
    expect(await curve.isVisible()).toBe(false);
    await first.locator('.legend-item[data-series="0"]').click();
    expect(await curve.isVisible()).toBe(true);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("comparison of several runs (one interrupted): renders without console errors", async () => {
    const a = join(tmp, "a");
    const b = join(tmp, "b");
    writeFixtureRun(a, { seed: 1 });
    writeFixtureRun(b, { seed: 2, learned: 3 });
    const file = writeReport([a, b], join(tmp, "comparison.html"));
    const { page, problems, requests } = await open(file);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.locator("text=Comparison of 2 runs").count()).toBe(1);
    expect(await page.locator("svg.bars").count()).toBe(4);
    expect(await page.locator("svg.score-matrix").count()).toBe(6);
    expect(await page.locator("td.partial").count()).toBeGreaterThan(0);
    await page.screenshot({ path: SCREENSHOT_COMPARISON, fullPage: false });
    await page.close();
  }, 60_000);
});
