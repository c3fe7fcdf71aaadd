/**
 * The TextMate grammar, tokenized with the same engine VS Code uses
 * (vscode-textmate + vscode-oniguruma). Test data: the sample below.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import * as oniguruma from "vscode-oniguruma";
import * as textmate from "vscode-textmate";

const root = path.resolve(__dirname, "..", "..");
let grammar: textmate.IGrammar;

before(async () => {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== "source.asm.aarch64") return null;
      const file = path.join(root, "syntaxes", "aarch64-asm.tmLanguage.json");
      return textmate.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  const loaded = await registry.loadGrammar("source.asm.aarch64");
  assert.ok(loaded);
  grammar = loaded;
});

/** [text, most specific scope] for each non-blank token of each line. */
function tokenize(source: string): [string, string][][] {
  let state = textmate.INITIAL;
  return source.split("\n").map((line) => {
    const r = grammar.tokenizeLine(line, state);
    state = r.ruleStack;
    return r.tokens
      .map((t): [string, string] => [line.slice(t.startIndex, t.endIndex), t.scopes[t.scopes.length - 1] ?? ""])
      .filter(([text]) => text.trim() !== "");
  });
}

test("labels, mnemonics, registers, immediates and comments", () => {
  const lines = tokenize(
    [
      "# whole-line comment",
      "\t.globl\tadd_one // export",
      "add_one:",
      "\tadd\tx0, x0, #1",
      "1:\tsubs\tw1, w1, #0x10",
      "\tb.ne\t1b",
      "\tldr\tx2, [sp, #16]!",
      "\tadrp\tx3, :got:sym",
      "\tstr\tq0, [x3, :lo12:.Lbuf]",
      '\t.ascii "a\\n" /* block',
      "   still comment */",
    ].join("\n"),
  );
  assert.deepEqual(lines, [
    [["# whole-line comment", "comment.line.number-sign.aarch64"]],
    [
      [".globl", "keyword.control.directive.aarch64"],
      ["add_one", "support.function.symbol.aarch64"],
      ["// export", "comment.line.double-slash.aarch64"],
    ],
    [
      ["add_one", "entity.name.function.label.aarch64"],
      [":", "punctuation.separator.label.aarch64"],
    ],
    [
      ["add", "keyword.other.mnemonic.aarch64"],
      ["x0", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      ["x0", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      ["#1", "constant.numeric.immediate.aarch64"],
    ],
    [
      ["1", "entity.name.label.numeric.aarch64"],
      [":", "punctuation.separator.label.aarch64"],
      ["subs", "keyword.other.mnemonic.aarch64"],
      ["w1", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      ["w1", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      ["#0x10", "constant.numeric.immediate.aarch64"],
    ],
    [
      ["b.ne", "keyword.other.mnemonic.aarch64"],
      ["1b", "entity.name.label.numeric.reference.aarch64"],
    ],
    [
      ["ldr", "keyword.other.mnemonic.aarch64"],
      ["x2", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      ["[", "punctuation.definition.bracket.aarch64"],
      ["sp", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      ["#16", "constant.numeric.immediate.aarch64"],
      ["]", "punctuation.definition.bracket.aarch64"],
      ["!", "keyword.operator.writeback.aarch64"],
    ],
    [
      ["adrp", "keyword.other.mnemonic.aarch64"],
      ["x3", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      [":got:", "storage.modifier.relocation.aarch64"],
      ["sym", "support.function.symbol.aarch64"],
    ],
    [
      ["str", "keyword.other.mnemonic.aarch64"],
      ["q0", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      ["[", "punctuation.definition.bracket.aarch64"],
      ["x3", "variable.language.register.aarch64"],
      [",", "punctuation.separator.aarch64"],
      [":lo12:", "storage.modifier.relocation.aarch64"],
      [".Lbuf", "variable.other.constant.local.aarch64"],
      ["]", "punctuation.definition.bracket.aarch64"],
    ],
    [
      [".ascii", "keyword.control.directive.aarch64"],
      ['"', "punctuation.definition.string.begin.aarch64"],
      ["a", "string.quoted.double.aarch64"],
      ["\\n", "constant.character.escape.aarch64"],
      ['"', "punctuation.definition.string.end.aarch64"],
      ["/*", "punctuation.definition.comment.aarch64"],
      [" block", "comment.block.aarch64"],
    ],
    [
      ["   still comment ", "comment.block.aarch64"],
      ["*/", "punctuation.definition.comment.aarch64"],
    ],
  ]);
});

test("vector registers, '#' mid-line is not a comment, preprocessor lines", () => {
  const [vec, pre] = tokenize("\tfmla\tv0.4s, v1.4s, v2.s[1]\n#include \"x.h\"");
  assert.deepEqual(vec, [
    ["fmla", "keyword.other.mnemonic.aarch64"],
    ["v0", "variable.language.register.vector.aarch64"],
    [".4s", "storage.type.arrangement.aarch64"],
    [",", "punctuation.separator.aarch64"],
    ["v1", "variable.language.register.vector.aarch64"],
    [".4s", "storage.type.arrangement.aarch64"],
    [",", "punctuation.separator.aarch64"],
    ["v2", "variable.language.register.vector.aarch64"],
    [".s", "storage.type.arrangement.aarch64"],
    ["[", "punctuation.definition.bracket.aarch64"],
    ["1", "constant.numeric.aarch64"],
    ["]", "punctuation.definition.bracket.aarch64"],
  ]);
  assert.deepEqual(pre?.[0], ["#include", "keyword.control.preprocessor.aarch64"]);
});
