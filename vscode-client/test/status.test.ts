import assert from "node:assert/strict";
import { test } from "node:test";
import { analysisAnswer, modelStatusText, parseServerStatus, statusView } from "../src/core/status";

test("a loading model shows a spinner and the busy part", () => {
  assert.deepEqual(statusView({ model: "loading", indexing: "idle" }), {
    text: "$(sync~spin) asm-lsp: loading",
    tooltip: "asm-lsp — model loading, index idle\nClick for the model status.",
    severity: "busy",
  });
});

test("indexing progress counts as busy", () => {
  assert.equal(statusView({ model: "ready", indexing: "12/40 files" }).text, "$(sync~spin) asm-lsp: 12/40 files");
});

test("all ready shows a check; errors show a warning", () => {
  assert.equal(statusView({ model: "ready", indexing: "done" }).text, "$(check) asm-lsp");
  assert.deepEqual(statusView({ model: "error: model file not found", indexing: "done" }).severity, "error");
});

test("malformed notification params read as empty", () => {
  assert.deepEqual(parseServerStatus({ model: 3 }), { model: "", indexing: "" });
  assert.deepEqual(parseServerStatus(null), { model: "", indexing: "" });
});

test("model status text from a string, MarkupContent or nothing", () => {
  assert.equal(modelStatusText("**ready**"), "**ready**");
  assert.equal(modelStatusText({ kind: "markdown", value: "# Model" }), "# Model");
  assert.equal(modelStatusText(null), "(the server returned no status)");
});

test("model preparation progress shows its step and percentage", () => {
  assert.equal(
    statusView({ model: "preparing (assembling 45%)", indexing: "idle" }).text,
    "$(sync~spin) asm-lsp: preparing (assembling 45%)",
  );
  assert.equal(
    statusView({ model: "preparing (checking)", indexing: "idle" }).text,
    "$(sync~spin) asm-lsp: preparing (checking)",
  );
});

test("a pipeline analysis answer is shown only when ok", () => {
  assert.deepEqual(analysisAnswer({ ok: true, markdown: "**Pipeline analysis**", report: {} }), {
    ok: true,
    markdown: "**Pipeline analysis**",
  });
  assert.deepEqual(analysisAnswer({ ok: false, markdown: "x", error: "llvm-mca not found" }), {
    ok: false,
    markdown: "llvm-mca not found",
  });
  assert.equal(analysisAnswer(null).ok, false);
});
