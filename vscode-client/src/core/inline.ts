/**
 * vscode-languageclient 9.0.1 copies `context.selectedCompletionInfo` into the
 * textDocument/inlineCompletion params as it is, and a vscode.Range turns into a JSON
 * array (`[start, end]`), not an LSP Range: the server rejects those params. Seen in the
 * e2e run whenever the suggest widget was open while ghost text was asked for.
 * This gives the range as `{start, end}` with plain positions.
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

export function inlineContextForServer<T extends InlineContextLike>(context: T): T {
  const selected = context.selectedCompletionInfo;
  if (selected === undefined) return context;
  return {
    ...context,
    selectedCompletionInfo: {
      text: selected.text,
      range: { start: position(selected.range.start), end: position(selected.range.end) },
    },
  };
}
