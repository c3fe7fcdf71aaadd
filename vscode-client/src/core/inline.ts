/**
 * vscode-languageclient 9.0.1 copies `context.selectedCompletionInfo` into the
 * textDocument/inlineCompletion params as it is, and a vscode.Range turns into a JSON
 * array (`[start, end]`), not an LSP Range: the server rejects those params. Seen in the
 * e2e run whenever the suggest widget was open while ghost text was asked for.
 * It also copies `triggerKind` as it is, and VS Code counts from 0 (Invoke 0, Automatic 1)
 * where LSP counts from 1 (Invoked 1, Automatic 2): the server refused `0`.
 * This gives the LSP trigger kind and the range as `{start, end}` with plain positions.
 */

interface PositionLike {
  line: number;
  character: number;
}

interface SelectedCompletionInfoLike {
  range: { start: PositionLike; end: PositionLike };
  text: string;
}

export interface InlineContextLike {
  triggerKind: number;
  selectedCompletionInfo?: SelectedCompletionInfoLike;
}

const position = (p: PositionLike): PositionLike => ({ line: p.line, character: p.character });

/** VS Code's InlineCompletionTriggerKind (0 Invoke, 1 Automatic) as LSP's (1 Invoked, 2 Automatic). */
export function lspTriggerKind(vscodeKind: number): number {
  return vscodeKind === 0 ? 1 : 2;
}

export function inlineContextForServer<T extends InlineContextLike>(context: T): T {
  const selected = context.selectedCompletionInfo;
  const triggerKind = lspTriggerKind(context.triggerKind);
  if (selected === undefined) return { ...context, triggerKind };
  return {
    ...context,
    triggerKind,
    selectedCompletionInfo: {
      text: selected.text,
      range: { start: position(selected.range.start), end: position(selected.range.end) },
    },
  };
}
