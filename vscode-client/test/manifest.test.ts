import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { SERVER_DEFAULTS } from "../src/core/settings";

// Test data: package.json's contributes.configuration.
const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, "..", "..", "package.json"), "utf8"));
const properties: Record<string, { default: unknown; markdownDescription?: string }> =
  manifest.contributes.configuration.properties;

function flatten(prefix: string, value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) Object.assign(out, flatten(`${prefix}${k}.`, v));
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

test("every server setting is contributed with the same default, and nothing else is", () => {
  const server = flatten("asmLsp.", SERVER_DEFAULTS);
  const contributed = Object.fromEntries(
    Object.entries(properties)
      .filter(([k]) => !k.startsWith("asmLsp.server.") && k !== "asmLsp.trace.server")
      .map(([k, v]) => [k, v.default]),
  );
  assert.deepEqual(contributed, server);
});

test("every setting has a description", () => {
  const missing = Object.entries(properties).filter(([, v]) => !v.markdownDescription).map(([k]) => k);
  assert.deepEqual(missing, []);
});
