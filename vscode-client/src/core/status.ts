/**
 * Status bar text from the server's `asmLsp/status` notification
 * (`{model: string, indexing: string}`) and from the client's own state.
 */

export interface ServerStatus {
  model: string;
  indexing: string;
}

export interface StatusView {
  /** Status bar text, with a codicon. */
  text: string;
  /** Plain-text tooltip. */
  tooltip: string;
  severity: "ok" | "busy" | "error";
}

const BUSY = /\b(loading|starting|download|fetch|indexing|scanning|warming|preparing)|\d+\s*\/\s*\d+|\d+\s*%/i;
const ERROR = /\b(error|failed|missing|not found|unavailable)\b/i;

/** Accepts the notification's params; anything malformed reads as empty strings. */
export function parseServerStatus(params: unknown): ServerStatus {
  const p = (typeof params === "object" && params !== null ? params : {}) as Record<string, unknown>;
  return {
    model: typeof p.model === "string" ? p.model : "",
    indexing: typeof p.indexing === "string" ? p.indexing : "",
  };
}

export function statusView(status: ServerStatus): StatusView {
  const parts: string[] = [];
  if (status.model !== "") parts.push(`model ${status.model}`);
  if (status.indexing !== "") parts.push(`index ${status.indexing}`);
  const all = `${status.model} ${status.indexing}`;
  const severity = ERROR.test(all) ? "error" : BUSY.test(all) ? "busy" : "ok";
  const icon = severity === "error" ? "$(warning)" : severity === "busy" ? "$(sync~spin)" : "$(check)";
  // Keep the bar short: show the busy part when there is one.
  const busyPart = [status.model, status.indexing].find((s) => BUSY.test(s) || ERROR.test(s));
  const short = busyPart !== undefined && busyPart !== "" ? `: ${busyPart}` : "";
  return {
    text: `${icon} asm-lsp${short}`,
    tooltip: `asm-lsp — ${parts.length > 0 ? parts.join(", ") : "running"}\nClick for the model status.`,
    severity,
  };
}

/** `asmLsp.modelStatus` returns Markdown text; accept MarkupContent-like objects too. */
export function modelStatusText(result: unknown): string {
  if (typeof result === "string") return result;
  if (typeof result === "object" && result !== null) {
    const value = (result as Record<string, unknown>).value;
    if (typeof value === "string") return value;
    return JSON.stringify(result, null, 2);
  }
  return result === null || result === undefined ? "(the server returned no status)" : String(result);
}

/** `asmLsp.analyzeThroughput` answers `{ok, markdown, report | error}`; anything else is not ok. */
export function analysisAnswer(result: unknown): { ok: boolean; markdown: string } {
  if (typeof result === "object" && result !== null) {
    const r = result as Record<string, unknown>;
    if (r.ok === true && typeof r.markdown === "string") return { ok: true, markdown: r.markdown };
    const error = typeof r.error === "string" ? r.error : JSON.stringify(result);
    return { ok: false, markdown: error };
  }
  return { ok: false, markdown: "(the server gave no analysis)" };
}
