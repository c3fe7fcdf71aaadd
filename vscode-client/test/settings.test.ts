import assert from "node:assert/strict";
import { test } from "node:test";
import { SERVER_DEFAULTS, readClientSettings, readServerSettings, workspaceLayer } from "../src/core/settings";

const ctx = { homeDir: "/home/u", workspaceFolder: "/ws" };

/** A getter over dotted keys, like vscode.WorkspaceConfiguration.get. */
const getter = (values: Record<string, unknown>) => (key: string) => values[key];

test("nothing set gives the documented server defaults", () => {
  assert.deepEqual(readServerSettings(getter({}), ctx), { settings: SERVER_DEFAULTS, problems: [] });
});

test("values are mapped into the server's nested shape, paths expanded", () => {
  const { settings, problems } = readServerSettings(
    getter({
      "model.path": "~/models/a64.gguf",
      "model.adapter": "${workspaceFolder}/lora.gguf",
      "model.threads": 4,
      "completion.mode": "inline",
      "completion.maxLines": 3,
      "assembler.path": "/usr/bin/aarch64-linux-gnu-as",
      "assembler.flags": ["-march=armv8.2-a"],
      "diagnostics.debounceMs": 150,
      "index.enabled": false,
      "analysis.mcaPath": "~/llvm/bin/llvm-mca",
      "analysis.cpu": "cortex-a72",
    }),
    ctx,
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(settings, {
    ...SERVER_DEFAULTS,
    model: { ...SERVER_DEFAULTS.model, path: "/home/u/models/a64.gguf", adapter: "/ws/lora.gguf", threads: 4 },
    completion: { ...SERVER_DEFAULTS.completion, mode: "inline", maxLines: 3 },
    assembler: { ...SERVER_DEFAULTS.assembler, path: "/usr/bin/aarch64-linux-gnu-as", flags: ["-march=armv8.2-a"] },
    diagnostics: { enabled: true, debounceMs: 150 },
    index: { enabled: false, embeddings: true, maxFiles: 20000 },
    analysis: { ...SERVER_DEFAULTS.analysis, mcaPath: "/home/u/llvm/bin/llvm-mca", cpu: "cortex-a72" },
  });
});

test("bad values fall back to defaults and are reported", () => {
  const { settings, problems } = readServerSettings(
    getter({ "completion.mode": "ghost", "model.threads": -2, "assembler.flags": "-g", "completion.enabled": "yes" }),
    ctx,
  );
  assert.deepEqual(settings, SERVER_DEFAULTS);
  assert.deepEqual(problems, [
    'asmLsp.model.threads: -2 is not a whole number from 0 to 256; using the default',
    'asmLsp.completion.enabled: "yes" is not true or false; using the default',
    'asmLsp.completion.mode: "ghost" is not one of "inline", "list", "both"; using the default',
    'asmLsp.assembler.flags: "-g" is not a list of strings; using the default',
  ]);
});

test("model.size is 0.5b or 1.5b", () => {
  assert.equal(readServerSettings(getter({ "model.size": "1.5b" }), ctx).settings.model.size, "1.5b");
  const { settings, problems } = readServerSettings(getter({ "model.size": "7b" }), ctx);
  assert.equal(settings.model.size, "0.5b");
  assert.deepEqual(problems, ['asmLsp.model.size: "7b" is not one of "0.5b", "1.5b"; using the default']);
});

test("'default' and 'none' adapters are kept as words", () => {
  assert.equal(readServerSettings(getter({ "model.adapter": "none" }), ctx).settings.model.adapter, "none");
});

test("client settings: server path and extra args", () => {
  assert.deepEqual(readClientSettings(getter({ "server.path": "/x/asm-lsp", "server.extraArgs": ["--log-level", "debug"] })), {
    settings: { serverPath: "/x/asm-lsp", serverExtraArgs: ["--log-level", "debug"] },
    problems: [],
  });
});

test("the workspace layer leaves out the user's program settings and keeps the workspace's", () => {
  const { settings } = readServerSettings(
    getter({ "model.cacheDir": "/cache", "assembler.path": "/ws/evil-as", "model.threads": 2 }),
    ctx,
  );
  const layer = workspaceLayer(settings, (key) => key === "assembler.path");
  const model = layer.model as Record<string, unknown>;
  assert.equal("cacheDir" in model, false);
  assert.equal("path" in model, false);
  assert.equal((layer.assembler as Record<string, unknown>).path, "/ws/evil-as");
  assert.equal(model.threads, 2);
  assert.equal(settings.model.cacheDir, "/cache"); // the settings themselves are untouched
});
