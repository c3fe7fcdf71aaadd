/**
 * The `asmLsp` settings, typed and fully defaulted, and the object the server
 * receives (as initializationOptions and as the answer to workspace/configuration).
 * The server shape is the one in docs/ARCHITECTURE.md ("Settings"); `server.*` and
 * `trace.server` are client-only and are not sent (the server reports unknown keys).
 * Ranges match server/asm_lsp/settings.py `_RANGES`.
 */
import { expandPath } from "./serverCommand";

export type CompletionMode = "inline" | "list" | "both";

export interface ServerSettings {
  model: {
    enabled: boolean;
    path: string;
    adapter: string;
    threads: number;
    gpuLayers: number;
    contextSize: number;
    cacheDir: string;
    size: "0.5b" | "1.5b";
    kvShift: boolean;
    coldWindow: boolean;
  };
  completion: {
    enabled: boolean;
    mode: CompletionMode;
    maxLines: number;
    checkWithAssembler: boolean;
    candidates: number;
    timeBudgetMs: number;
    repoContext: boolean;
  };
  assembler: { path: string; flags: string[]; timeoutMs: number; includePaths: string[]; defines: string[] };
  diagnostics: { enabled: boolean; debounceMs: number };
  index: { enabled: boolean; embeddings: boolean; maxFiles: number };
  analysis: { mcaPath: string; cpu: string; mattr: string; mcaOnHover: boolean; timeoutMs: number };
}

export interface ClientSettings {
  serverPath: string;
  serverExtraArgs: string[];
}

export const SERVER_DEFAULTS: ServerSettings = {
  model: {
    enabled: true, path: "", adapter: "default", threads: 0, gpuLayers: -1, contextSize: 2048, cacheDir: "",
    size: "0.5b", kvShift: true, coldWindow: true,
  },
  completion: {
    enabled: true,
    mode: "both",
    maxLines: 8,
    checkWithAssembler: false,
    candidates: 3,
    timeBudgetMs: 2000,
    repoContext: false,
  },
  assembler: { path: "", flags: [], timeoutMs: 5000, includePaths: [], defines: [] },
  diagnostics: { enabled: true, debounceMs: 300 },
  index: { enabled: true, embeddings: true, maxFiles: 20000 },
  analysis: { mcaPath: "", cpu: "neoverse-n1", mattr: "", mcaOnHover: false, timeoutMs: 10000 },
};

/** Reads one dotted key below `asmLsp` (e.g. "model.threads"); undefined when unset. */
export type SettingGetter = (key: string) => unknown;

export interface PathContext {
  homeDir: string;
  workspaceFolder?: string;
}

/** Collects "asmLsp.x: bad value" notes while reading, so the user can be told once. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly get: SettingGetter) {}

  private bad(key: string, value: unknown, expected: string): void {
    this.problems.push(`asmLsp.${key}: ${JSON.stringify(value)} is not ${expected}; using the default`);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === "boolean") return v;
    this.bad(key, v, "true or false");
    return fallback;
  }

  int(key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    this.bad(key, v, `a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}`);
    return fallback;
  }

  str(key: string, fallback: string): string {
    const v = this.get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === "string") return v;
    this.bad(key, v, "a string");
    return fallback;
  }

  strList(key: string, fallback: string[]): string[] {
    const v = this.get(key);
    if (v === undefined || v === null) return fallback;
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return [...(v as string[])];
    this.bad(key, v, "a list of strings");
    return fallback;
  }

  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const v = this.get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
    this.bad(key, v, `one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
    return fallback;
  }
}

/** Paths that are files on the user's machine get `~` and `${workspaceFolder}` expanded. */
function filePath(value: string, ctx: PathContext): string {
  return value === "" ? "" : expandPath(value, ctx.homeDir, ctx.workspaceFolder);
}

/** The adapter is "default", "none" or a path; only the path is expanded. */
function adapterValue(value: string, ctx: PathContext): string {
  return value === "default" || value === "none" ? value : filePath(value, ctx);
}

export function readServerSettings(
  get: SettingGetter,
  ctx: PathContext,
): { settings: ServerSettings; problems: string[] } {
  const r = new Reader(get);
  const d = SERVER_DEFAULTS;
  const settings: ServerSettings = {
    model: {
      enabled: r.bool("model.enabled", d.model.enabled),
      path: filePath(r.str("model.path", d.model.path), ctx),
      adapter: adapterValue(r.str("model.adapter", d.model.adapter), ctx),
      threads: r.int("model.threads", d.model.threads, 0, 256),
      gpuLayers: r.int("model.gpuLayers", d.model.gpuLayers, -1, 1000),
      contextSize: r.int("model.contextSize", d.model.contextSize, 256, 32768),
      cacheDir: filePath(r.str("model.cacheDir", d.model.cacheDir), ctx),
      size: r.oneOf("model.size", d.model.size, ["0.5b", "1.5b"] as const),
      kvShift: r.bool("model.kvShift", d.model.kvShift),
      coldWindow: r.bool("model.coldWindow", d.model.coldWindow),
    },
    completion: {
      enabled: r.bool("completion.enabled", d.completion.enabled),
      mode: r.oneOf("completion.mode", d.completion.mode, ["inline", "list", "both"] as const),
      maxLines: r.int("completion.maxLines", d.completion.maxLines, 1, 64),
      checkWithAssembler: r.bool("completion.checkWithAssembler", d.completion.checkWithAssembler),
      candidates: r.int("completion.candidates", d.completion.candidates, 1, 16),
      timeBudgetMs: r.int("completion.timeBudgetMs", d.completion.timeBudgetMs, 50, 60000),
      repoContext: r.bool("completion.repoContext", d.completion.repoContext),
    },
    assembler: {
      path: filePath(r.str("assembler.path", d.assembler.path), ctx),
      flags: r.strList("assembler.flags", d.assembler.flags),
      timeoutMs: r.int("assembler.timeoutMs", d.assembler.timeoutMs, 100, 120000),
      includePaths: r.strList("assembler.includePaths", d.assembler.includePaths),
      defines: r.strList("assembler.defines", d.assembler.defines),
    },
    diagnostics: {
      enabled: r.bool("diagnostics.enabled", d.diagnostics.enabled),
      debounceMs: r.int("diagnostics.debounceMs", d.diagnostics.debounceMs, 0, 10000),
    },
    index: {
      enabled: r.bool("index.enabled", d.index.enabled),
      embeddings: r.bool("index.embeddings", d.index.embeddings),
      maxFiles: r.int("index.maxFiles", d.index.maxFiles, 1, 1000000),
    },
    analysis: {
      mcaPath: filePath(r.str("analysis.mcaPath", d.analysis.mcaPath), ctx),
      cpu: r.str("analysis.cpu", d.analysis.cpu),
      mattr: r.str("analysis.mattr", d.analysis.mattr),
      mcaOnHover: r.bool("analysis.mcaOnHover", d.analysis.mcaOnHover),
      timeoutMs: r.int("analysis.timeoutMs", d.analysis.timeoutMs, 100, 600000),
    },
  };
  return { settings, problems: r.problems };
}

export function readClientSettings(get: SettingGetter): { settings: ClientSettings; problems: string[] } {
  const r = new Reader(get);
  const settings: ClientSettings = {
    serverPath: r.str("server.path", ""),
    serverExtraArgs: r.strList("server.extraArgs", []),
  };
  return { settings, problems: r.problems };
}

/** Settings that name programs or files: the server takes them only from initializationOptions
 * (the user's settings) and warns when the workspace layer carries them. */
export const PROGRAM_KEYS = ["assembler.path", "model.path", "model.cacheDir", "model.adapter", "analysis.mcaPath"] as const;

/**
 * The answer to workspace/configuration: `settings` without the program keys whose value does
 * not come from the workspace (`fromWorkspace(key)`). The user's own values already went in
 * initializationOptions; repeating them in the workspace layer made the server warn that
 * the workspace may not set them. A value the workspace does set is kept, so the server
 * refuses it and says so.
 */
export function workspaceLayer(settings: ServerSettings, fromWorkspace: (key: string) => boolean): Record<string, unknown> {
  const layer: Record<string, Record<string, unknown>> = {};
  for (const [section, values] of Object.entries(settings)) layer[section] = { ...(values as Record<string, unknown>) };
  for (const key of PROGRAM_KEYS) {
    const [section = "", name = ""] = key.split(".");
    const values = layer[section];
    if (values !== undefined && !fromWorkspace(key)) delete values[name];
  }
  return layer;
}
