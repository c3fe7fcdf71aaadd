/**
 * Run `<candidate> --version` and pick the first candidate that is our server.
 * Uses only node:child_process, so it is unit-testable with fake executables.
 */
import { execFile } from "node:child_process";
import { ServerCommand, describeCommand } from "./serverCommand";
import { INSTALL_HINT, VersionVerdict, classifyVersionOutput, nameClashMessage } from "./version";

export interface ProbeResult {
  /** stdout and stderr together; "" when the command could not run. */
  output: string;
  /** Why it could not run (ENOENT, timeout, exit status), if it failed. */
  error?: string;
}

export type Prober = (candidate: ServerCommand) => Promise<ProbeResult>;

/** Run `<command> <args> --version` with a timeout; never rejects. */
export function probeVersion(candidate: ServerCommand, timeoutMs = 15000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      candidate.command,
      [...candidate.args, "--version"],
      { timeout: timeoutMs, windowsHide: true, encoding: "utf8" },
      (err, stdout, stderr) => {
        const output = `${stdout ?? ""}${stderr ?? ""}`;
        if (err === null) {
          resolve({ output });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        let why: string;
        if (e.code === "ENOENT") {
          why = "not found";
        } else if (e.killed) {
          why = `no answer within ${timeoutMs / 1000} s`;
        } else if (typeof e.code === "number") {
          why = `exited with status ${e.code}`;
        } else {
          why = e.message;
        }
        resolve({ output, error: why });
      },
    );
  });
}

export type Selection =
  | { ok: true; server: ServerCommand; version: string; skipped: string[] }
  | { ok: false; message: string; details: string[] };

/**
 * Try candidates in order. A candidate that runs but lacks "AArch64" in its
 * `--version` output (the Rust asm-lsp) is skipped; if nothing qualifies, the
 * message explains the clash when one was seen, else that nothing was found.
 */
export async function selectServer(candidates: ServerCommand[], probe: Prober): Promise<Selection> {
  const details: string[] = [];
  let clash: string | undefined;
  for (const candidate of candidates) {
    const shown = describeCommand(candidate);
    const result = await probe(candidate);
    const verdict: VersionVerdict = classifyVersionOutput(result.output);
    if (verdict.kind === "ours") {
      return { ok: true, server: candidate, version: verdict.version, skipped: details };
    }
    if (result.error === undefined || verdict.kind === "other") {
      // It ran (or printed something) but is not ours.
      const looksLikeMissingModule = /No module named/i.test(result.output);
      if (looksLikeMissingModule) {
        details.push(`${shown} (${candidate.source}): the asm_lsp module is not installed`);
        continue;
      }
      clash ??= nameClashMessage(shown, verdict);
      details.push(`${shown} (${candidate.source}): not the AArch64 asm-lsp: ${result.output.trim() || "(no output)"}`);
      continue;
    }
    details.push(`${shown} (${candidate.source}): ${result.error}`);
  }
  if (clash !== undefined) {
    return { ok: false, message: clash, details };
  }
  const only = candidates.length === 1 ? candidates[0] : undefined;
  const message =
    only?.source === "setting"
      ? `asm-lsp: asmLsp.server.path is set to \`${describeCommand(only)}\`, which could not be run ` +
        `(${details.join("; ")}). ${INSTALL_HINT}`
      : `asm-lsp: the AArch64 language server was not found (tried: ` +
        `${candidates.map(describeCommand).join(", ")}). ${INSTALL_HINT}`;
  return { ok: false, message, details };
}
