import * as vscode from "vscode";
import { ServerStatus, statusView } from "./core/status";

/** One status bar item: client state until the server reports, then `asmLsp/status`. */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem("asmLsp.status", vscode.StatusBarAlignment.Left, 10);
    this.item.name = "asm-lsp";
    this.item.command = "asmLsp.showModelStatus";
    this.starting();
    this.item.show();
  }

  starting(): void {
    this.set("$(sync~spin) asm-lsp: starting", "asm-lsp — starting the language server", false);
  }

  stopped(): void {
    this.set("$(circle-slash) asm-lsp: stopped", "asm-lsp — the language server is not running", false);
  }

  failed(reason: string): void {
    this.item.command = "asmLsp.restartServer";
    this.set("$(error) asm-lsp", `asm-lsp — ${reason}\nClick to restart the server.`, true);
  }

  server(status: ServerStatus): void {
    const view = statusView(status);
    this.item.command = "asmLsp.showModelStatus";
    this.set(view.text, view.tooltip, view.severity === "error");
  }

  private set(text: string, tooltip: string, error: boolean): void {
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.backgroundColor = error ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
