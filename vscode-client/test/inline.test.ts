import assert from "node:assert/strict";
import { test } from "node:test";
import { inlineContextForServer } from "../src/core/inline";

/** Like vscode.Range: JSON.stringify gives an array, as in the editor. */
class ArrayRange {
  constructor(
    readonly start: { line: number; character: number },
    readonly end: { line: number; character: number },
  ) {}
  toJSON(): unknown {
    return [this.start, this.end];
  }
}

test("the selected completion's range goes to the server as an LSP Range", () => {
  const context = {
    triggerKind: 1,
    selectedCompletionInfo: { text: "ldr", range: new ArrayRange({ line: 3, character: 1 }, { line: 3, character: 4 }) },
  };
  assert.deepEqual(JSON.parse(JSON.stringify(inlineContextForServer(context))), {
    triggerKind: 2, // VS Code's Automatic (1) is LSP's Automatic (2)
    selectedCompletionInfo: { text: "ldr", range: { start: { line: 3, character: 1 }, end: { line: 3, character: 4 } } },
  });
  assert.deepEqual(inlineContextForServer({ triggerKind: 0 }), { triggerKind: 1 }); // Invoke -> Invoked
});
