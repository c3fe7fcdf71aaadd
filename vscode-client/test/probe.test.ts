import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { ProbeResult, probeVersion, selectServer } from "../src/core/probe";
import { ServerCommand } from "../src/core/serverCommand";

// Fake executables stand in for our server, the Rust asm-lsp and a hung program.
let dir = "";
const fake = (name: string, body: string): string => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
};

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "asm-lsp-probe-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const posixOnly = { skip: process.platform === "win32" ? "uses /bin/sh scripts" : false };

test("probeVersion runs `<cmd> --version` and reads stdout", posixOnly, async () => {
  const ours = fake("ours", 'echo "asm-lsp 0.1.0 (AArch64 GNU assembly language server, Python/pygls) $1"');
  const result = await probeVersion({ command: ours, args: [], source: "PATH" });
  assert.deepEqual(result, {
    output: "asm-lsp 0.1.0 (AArch64 GNU assembly language server, Python/pygls) --version\n",
  });
});

test("probeVersion reports a missing command and a hung one", posixOnly, async () => {
  const missing = await probeVersion({ command: path.join(dir, "nope"), args: [], source: "setting" });
  assert.deepEqual(missing, { output: "", error: "not found" });
  const hung = fake("hung", "exec sleep 30");
  const slow = await probeVersion({ command: hung, args: [], source: "PATH" }, 300);
  assert.deepEqual(slow, { output: "", error: "no answer within 0.3 s" });
});

test("the Rust asm-lsp on PATH is skipped in favour of python3 -m asm_lsp", posixOnly, async () => {
  const rust = fake("asm-lsp", 'echo "asm-lsp 0.9.0"');
  const python = fake("python3", 'echo "asm-lsp 0.1.0 (AArch64 GNU assembly language server, Python/pygls)"');
  const candidates: ServerCommand[] = [
    { command: rust, args: [], source: "PATH" },
    { command: python, args: ["-m", "asm_lsp"], source: "python3 fallback" },
  ];
  const selection = await selectServer(candidates, (c) => probeVersion(c));
  assert.deepEqual(selection, {
    ok: true,
    server: candidates[1],
    version: "0.1.0",
    skipped: [`${rust} (PATH): not the AArch64 asm-lsp: asm-lsp 0.9.0`],
  });
});

test("only the Rust asm-lsp: the error explains the name clash", async () => {
  const probe = async (): Promise<ProbeResult> => ({ output: "asm-lsp 0.9.0\n" });
  const selection = await selectServer([{ command: "/usr/bin/asm-lsp", args: [], source: "PATH" }], probe);
  assert.equal(selection.ok, false);
  assert.ok(!selection.ok);
  assert.match(selection.message, /`\/usr\/bin\/asm-lsp` is not the AArch64 asm-lsp: it printed "asm-lsp 0.9.0"/);
  assert.match(selection.message, /Rust program/);
});

test("nothing found: the error lists what was tried and how to install", async () => {
  const probe = async (c: ServerCommand): Promise<ProbeResult> =>
    c.command === "python3"
      ? { output: "/usr/bin/python3: No module named asm_lsp\n", error: "exited with status 1" }
      : { output: "", error: "not found" };
  const selection = await selectServer([{ command: "python3", args: ["-m", "asm_lsp"], source: "python3 fallback" }], probe);
  assert.deepEqual(selection, {
    ok: false,
    message:
      "asm-lsp: the AArch64 language server was not found (tried: python3 -m asm_lsp). " +
      "Install the AArch64 server with `pip install asm-lsp-aarch64` (or `pip install -e .` in the asm-lsp " +
      "repository) and, if `asm-lsp` is not on PATH, set `asmLsp.server.path` to its full path (for example " +
      "`~/.venv/bin/asm-lsp`).",
    details: ["python3 -m asm_lsp (python3 fallback): the asm_lsp module is not installed"],
  });
});

test("a configured path that does not exist names the setting", async () => {
  const probe = async (): Promise<ProbeResult> => ({ output: "", error: "not found" });
  const selection = await selectServer([{ command: "/opt/x/asm-lsp", args: [], source: "setting" }], probe);
  assert.ok(!selection.ok);
  assert.match(selection.message, /^asm-lsp: asmLsp\.server\.path is set to `\/opt\/x\/asm-lsp`, which could not be run \(\/opt\/x\/asm-lsp \(setting\): not found\)/);
});
