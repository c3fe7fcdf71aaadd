/**
 * Where to find the server, in order:
 *   1. `asmLsp.server.path` when set (a file path or a command name; no fallback),
 *   2. `asm-lsp` on PATH,
 *   3. `asm-lsp` next to the Python extension's selected interpreter, then
 *      `<interpreter> -m asm_lsp`,
 *   4. `python3 -m asm_lsp` (`python` on Windows).
 * Each candidate is later vetted with `--version` (see version.ts).
 */
import * as path from "node:path";

export interface ServerCommand {
  command: string;
  /** Arguments before `--stdio`/`--version`, e.g. `["-m", "asm_lsp"]`. */
  args: string[];
  /** Where this candidate came from, for messages. */
  source: "setting" | "PATH" | "python extension" | "python3 fallback";
}

export interface ResolveInput {
  /** `asmLsp.server.path`, "" when unset. */
  configuredPath: string;
  /** The PATH environment variable. */
  pathEnv: string;
  /** The interpreter the Python extension selected, if known. */
  pythonInterpreter?: string;
  platform: NodeJS.Platform;
  /** `~` for expansion. */
  homeDir: string;
  /** First workspace folder, for `${workspaceFolder}` expansion. */
  workspaceFolder?: string;
  /** True when the file exists and is executable; injected so tests need no files. */
  isExecutable: (file: string) => boolean;
}

/** Expand a leading `~` and `${workspaceFolder}` / `${userHome}` in a user-supplied path. */
export function expandPath(value: string, homeDir: string, workspaceFolder?: string): string {
  let out = value.trim();
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) {
    out = homeDir + out.slice(1);
  }
  out = out.replace(/\$\{userHome\}/g, homeDir);
  if (workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  return out;
}

function executableNames(name: string, platform: NodeJS.Platform): string[] {
  return platform === "win32" ? [`${name}.exe`, `${name}.cmd`, `${name}.bat`, name] : [name];
}

/** Look `name` up on PATH like a shell would; undefined when absent. */
export function findOnPath(
  name: string,
  pathEnv: string,
  platform: NodeJS.Platform,
  isExecutable: (file: string) => boolean,
): string | undefined {
  const p = platform === "win32" ? path.win32 : path.posix;
  for (const dir of pathEnv.split(platform === "win32" ? ";" : ":")) {
    if (dir === "") {
      continue;
    }
    for (const exe of executableNames(name, platform)) {
      const file = p.join(dir, exe);
      if (isExecutable(file)) {
        return file;
      }
    }
  }
  return undefined;
}

/** Candidates to try, best first. With a configured path this is exactly that one. */
export function serverCandidates(input: ResolveInput): ServerCommand[] {
  const { platform, isExecutable } = input;
  const p = platform === "win32" ? path.win32 : path.posix;
  const configured = expandPath(input.configuredPath, input.homeDir, input.workspaceFolder);
  if (configured !== "") {
    const isBareName = !configured.includes("/") && !configured.includes("\\");
    const command = isBareName
      ? (findOnPath(configured, input.pathEnv, platform, isExecutable) ?? configured)
      : configured;
    return [{ command, args: [], source: "setting" }];
  }

  const candidates: ServerCommand[] = [];
  const onPath = findOnPath("asm-lsp", input.pathEnv, platform, isExecutable);
  if (onPath !== undefined) {
    candidates.push({ command: onPath, args: [], source: "PATH" });
  }
  if (input.pythonInterpreter) {
    const binDir = p.dirname(input.pythonInterpreter);
    for (const exe of executableNames("asm-lsp", platform)) {
      const file = p.join(binDir, exe);
      if (file !== onPath && isExecutable(file)) {
        candidates.push({ command: file, args: [], source: "python extension" });
        break;
      }
    }
    candidates.push({
      command: input.pythonInterpreter,
      args: ["-m", "asm_lsp"],
      source: "python extension",
    });
  }
  candidates.push({
    command: platform === "win32" ? "python" : "python3",
    args: ["-m", "asm_lsp"],
    source: "python3 fallback",
  });
  return candidates;
}

/** `cmd arg1 arg2` for messages and logs. */
export function describeCommand(c: ServerCommand): string {
  return [c.command, ...c.args].join(" ");
}
