import assert from "node:assert/strict";
import { test } from "node:test";
import { classifyVersionOutput, nameClashMessage } from "../src/core/version";

test("our server's --version line is recognised with its version", () => {
  assert.deepEqual(
    classifyVersionOutput("asm-lsp 0.1.0 (AArch64 GNU assembly language server, Python/pygls)\n"),
    { kind: "ours", version: "0.1.0" },
  );
});

test("the Rust asm-lsp is 'other', and the clash message says so", () => {
  const verdict = classifyVersionOutput("asm-lsp 0.9.0\n");
  assert.deepEqual(verdict, { kind: "other", version: "0.9.0", firstLine: "asm-lsp 0.9.0" });
  const message = nameClashMessage("/home/u/.cargo/bin/asm-lsp", verdict);
  assert.match(message, /Rust program also called `asm-lsp`/);
  assert.match(message, /pip install asm-lsp-aarch64/);
  assert.match(message, /asmLsp\.server\.path/);
});

test("empty output is 'empty'", () => {
  assert.deepEqual(classifyVersionOutput("  \n"), { kind: "empty" });
});
