/**
 * Telling our asm-lsp apart from the unrelated Rust `asm-lsp` that shares its name.
 *
 * Ours prints `asm-lsp 0.1.0 (AArch64 GNU assembly language server, Python/pygls)`;
 * the Rust one prints `asm-lsp 0.9.0`. The word "AArch64" is the marker.
 */

export type VersionVerdict =
  | { kind: "ours"; version: string }
  | { kind: "other"; version: string | undefined; firstLine: string }
  | { kind: "empty" };

const VERSION_RE = /asm-lsp\s+v?(\d+(?:\.\d+)*\S*)/i;

/** Classify the combined stdout+stderr of `<server> --version`. */
export function classifyVersionOutput(output: string): VersionVerdict {
  const text = output.trim();
  if (text === "") {
    return { kind: "empty" };
  }
  const version = VERSION_RE.exec(text)?.[1];
  if (text.includes("AArch64")) {
    return { kind: "ours", version: version ?? "unknown" };
  }
  const firstLine = text.split(/\r?\n/, 1)[0] ?? "";
  return { kind: "other", version, firstLine };
}

export const INSTALL_HINT =
  "Install the AArch64 server with `pip install asm-lsp-aarch64` (or `pip install -e .` " +
  "in the asm-lsp repository) and, if `asm-lsp` is not on PATH, set `asmLsp.server.path` " +
  "to its full path (for example `~/.venv/bin/asm-lsp`).";

/** The message shown when a candidate answered `--version` but is not our server. */
export function nameClashMessage(command: string, verdict: VersionVerdict): string {
  const said =
    verdict.kind === "other" ? `it printed "${verdict.firstLine}"` : "it printed nothing";
  return (
    `\`${command}\` is not the AArch64 asm-lsp: ${said}, without "AArch64". ` +
    "This is most likely the unrelated Rust program also called `asm-lsp` " +
    "(cargo install asm-lsp), which shadows ours on PATH. " +
    INSTALL_HINT
  );
}
