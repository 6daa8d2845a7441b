// Printing a resolved configuration (YAML, every field shown, as the run will use it).

import YAML from "yaml";
import type { RunConfig } from "./types.js";

/**
 * The resolved configuration as YAML with a header comment, suitable for logs and for saving next to a
 * run; reading it back with loadConfig gives the same configuration. Short lists of numbers and
 * `{fraction}` budgets are written inline.
 */
export function describeConfig(config: RunConfig): string {
  const doc = new YAML.Document(config);
  YAML.visit(doc, {
    Seq(_, node) {
      if (node.items.every((item) => YAML.isScalar(item))) node.flow = true;
    },
    Map(_, node) {
      if (node.items.length === 1 && YAML.isScalar(node.items[0]?.key) && node.items[0]?.key.value === "fraction") node.flow = true;
    },
  });
  doc.commentBefore = " SEEKR run configuration (resolved: defaults filled in)";
  return doc.toString({ lineWidth: 0 });
}
