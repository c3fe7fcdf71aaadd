import assert from "node:assert/strict";
import { test } from "node:test";
import { ResolveInput, expandPath, findOnPath, serverCandidates } from "../src/core/serverCommand";

function input(over: Partial<ResolveInput> & { files?: string[] }): ResolveInput {
  const files = new Set(over.files ?? []);
  return {
    configuredPath: "",
    pathEnv: "/usr/local/bin:/usr/bin",
    platform: "linux",
    homeDir: "/home/u",
    isExecutable: (f) => files.has(f),
    ...over,
  };
}

test("a configured path is the only candidate, with ~ and ${workspaceFolder} expanded", () => {
  assert.deepEqual(serverCandidates(input({ configuredPath: "~/venv/bin/asm-lsp" })), [
    { command: "/home/u/venv/bin/asm-lsp", args: [], source: "setting" },
  ]);
  assert.deepEqual(
    serverCandidates(input({ configuredPath: "${workspaceFolder}/.venv/bin/asm-lsp", workspaceFolder: "/ws" })),
    [{ command: "/ws/.venv/bin/asm-lsp", args: [], source: "setting" }],
  );
});

test("a configured bare command name is looked up on PATH", () => {
  assert.deepEqual(serverCandidates(input({ configuredPath: "my-asm-lsp", files: ["/usr/bin/my-asm-lsp"] })), [
    { command: "/usr/bin/my-asm-lsp", args: [], source: "setting" },
  ]);
});

test("unset: PATH, then the Python extension's interpreter, then python3 -m asm_lsp", () => {
  const got = serverCandidates(
    input({
      pythonInterpreter: "/home/u/.venv/bin/python",
      files: ["/usr/bin/asm-lsp", "/home/u/.venv/bin/asm-lsp"],
    }),
  );
  assert.deepEqual(got, [
    { command: "/usr/bin/asm-lsp", args: [], source: "PATH" },
    { command: "/home/u/.venv/bin/asm-lsp", args: [], source: "python extension" },
    { command: "/home/u/.venv/bin/python", args: ["-m", "asm_lsp"], source: "python extension" },
    { command: "python3", args: ["-m", "asm_lsp"], source: "python3 fallback" },
  ]);
});

test("nothing installed: only the python3 fallback", () => {
  assert.deepEqual(serverCandidates(input({})), [
    { command: "python3", args: ["-m", "asm_lsp"], source: "python3 fallback" },
  ]);
});

test("Windows PATH lookup uses ';' and .exe", () => {
  const found = findOnPath("asm-lsp", "C:\\Py\\Scripts;C:\\Windows", "win32", (f) => f === "C:\\Py\\Scripts\\asm-lsp.exe");
  assert.equal(found, "C:\\Py\\Scripts\\asm-lsp.exe");
});

test("expandPath leaves other paths alone", () => {
  assert.equal(expandPath(" /opt/asm-lsp ", "/home/u"), "/opt/asm-lsp");
  assert.equal(expandPath("a~b", "/home/u"), "a~b");
});
