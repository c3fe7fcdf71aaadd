import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  Location as LspLocation,
  ServerOptions,
  State,
} from "vscode-languageclient/node";
import { inlineContextForServer } from "./core/inline";
import { probeVersion, selectServer } from "./core/probe";
import { describeCommand, serverCandidates } from "./core/serverCommand";
import { PROGRAM_KEYS, ServerSettings, readClientSettings, readServerSettings, workspaceLayer } from "./core/settings";
import { analysisAnswer, modelStatusText, parseServerStatus } from "./core/status";
import { selectedPythonInterpreter } from "./python";
import { StatusBar } from "./statusBar";

const LANGUAGE_ID = "aarch64-asm";
const SECTION = "asmLsp";
const ANALYSIS_SCHEME = "asm-lsp-analysis";

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, process.platform === "win32" ? fs.constants.F_OK : fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function workspaceFolderPath(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** Reads `asmLsp` for `scope`, telling the user once per distinct problem list. */
class Settings {
  private lastProblems = "";
  constructor(private readonly output: vscode.OutputChannel) {}

  server(scope?: vscode.Uri): ServerSettings {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    const { settings, problems } = readServerSettings((key) => config.get(key), {
      homeDir: os.homedir(),
      workspaceFolder: workspaceFolderPath(),
    });
    this.report(problems);
    return settings;
  }

  /** What workspace/configuration and didChangeConfiguration carry (core/settings.ts workspaceLayer). */
  workspace(scope?: vscode.Uri): Record<string, unknown> {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    return workspaceLayer(this.server(scope), (key) => {
      const found = config.inspect(key);
      return found?.workspaceValue !== undefined || found?.workspaceFolderValue !== undefined;
    });
  }

  client(): { serverPath: string; serverExtraArgs: string[] } {
    const config = vscode.workspace.getConfiguration(SECTION);
    const { settings, problems } = readClientSettings((key) => config.get(key));
    this.report(problems);
    return settings;
  }

  private report(problems: string[]): void {
    const key = problems.join("\n");
    if (key === "" || key === this.lastProblems) return;
    this.lastProblems = key;
    for (const p of problems) this.output.appendLine(p);
    void vscode.window.showWarningMessage(`asm-lsp settings: ${problems.join("; ")}`);
  }
}

class AsmLspExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly output = vscode.window.createOutputChannel("asm-lsp");
  private readonly traceOutput = vscode.window.createOutputChannel("asm-lsp trace");
  private readonly modelStatusOutput = vscode.window.createOutputChannel("asm-lsp model status", "markdown");
  /** llvm-mca's answers, shown as read-only Markdown documents (asm-lsp-analysis:…). */
  private readonly analyses = new Map<string, string>();
  private readonly analysisChanged = new vscode.EventEmitter<vscode.Uri>();
  private readonly statusBar = new StatusBar();
  private readonly settings = new Settings(this.output);

  constructor(context: vscode.ExtensionContext) {
    context.subscriptions.push(
      this,
      vscode.commands.registerCommand("asmLsp.restartServer", () => this.restart()),
      vscode.commands.registerCommand("asmLsp.showSimilarFunctions", () => this.showSimilarFunctions()),
      vscode.commands.registerCommand("asmLsp.showModelStatus", () => this.showModelStatus()),
      vscode.commands.registerCommand("asmLsp.showPipelineAnalysis", () => this.showPipelineAnalysis()),
      vscode.workspace.registerTextDocumentContentProvider(ANALYSIS_SCHEME, {
        onDidChange: this.analysisChanged.event,
        provideTextDocumentContent: (uri) => this.analyses.get(uri.toString()) ?? "",
      }),
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)),
    );
  }

  async start(): Promise<void> {
    this.statusBar.starting();
    const clientSettings = this.settings.client();
    const candidates = serverCandidates({
      configuredPath: clientSettings.serverPath,
      pathEnv: process.env.PATH ?? "",
      pythonInterpreter:
        clientSettings.serverPath === "" ? await selectedPythonInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri) : undefined,
      platform: process.platform,
      homeDir: os.homedir(),
      workspaceFolder: workspaceFolderPath(),
      isExecutable,
    });
    const selection = await selectServer(candidates, (c) => probeVersion(c));
    if (!selection.ok) {
      for (const line of selection.details) this.output.appendLine(`  ${line}`);
      this.output.appendLine(selection.message);
      this.statusBar.failed(selection.message);
      void vscode.window
        .showErrorMessage(selection.message, "Open Settings", "Show Output")
        .then((choice) => {
          if (choice === "Open Settings") {
            void vscode.commands.executeCommand("workbench.action.openSettings", "asmLsp.server.path");
          } else if (choice === "Show Output") {
            this.output.show();
          }
        });
      return;
    }
    for (const line of selection.skipped) this.output.appendLine(`skipped ${line}`);
    const { server } = selection;
    this.output.appendLine(
      `starting ${describeCommand(server)} --stdio (asm-lsp ${selection.version}, from ${server.source})`,
    );

    const serverOptions: ServerOptions = {
      command: server.command,
      args: [...server.args, "--stdio", ...clientSettings.serverExtraArgs],
      options: { cwd: workspaceFolderPath() },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: "file", language: LANGUAGE_ID },
        { scheme: "untitled", language: LANGUAGE_ID },
      ],
      initializationOptions: () => this.settings.server(),
      outputChannel: this.output,
      traceOutputChannel: this.traceOutput,
      middleware: {
        provideInlineCompletionItems: (document, position, context, token, next) =>
          next(document, position, inlineContextForServer(context), token),
        workspace: {
          // Answer workspace/configuration for our section with the typed, defaulted,
          // path-expanded object (the same one initializationOptions carries).
          configuration: async (params, token, next) => {
            const fallback = await next(params, token);
            if (!Array.isArray(fallback)) return fallback;
            return params.items.map((item, i) => {
              if (item.section === SECTION) {
                const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
                return this.settings.workspace(scope);
              }
              return fallback[i];
            });
          },
        },
      },
    };
    // The client id "asmLsp" makes vscode-languageclient honour `asmLsp.trace.server`.
    const client = new LanguageClient(SECTION, "asm-lsp", serverOptions, clientOptions);
    // vscode-languageclient 9.0.1 implements textDocument/inlineCompletion (LSP 3.18) as a
    // "proposed" feature (InlineCompletionItemFeature); this registers it.
    client.registerProposedFeatures();
    client.onNotification("asmLsp/status", (params: unknown) => {
      this.statusBar.server(parseServerStatus(params));
    });
    client.onDidChangeState((e) => {
      if (e.newState === State.Stopped) this.statusBar.stopped();
      else if (e.newState === State.Starting) this.statusBar.starting();
    });
    this.client = client;
    try {
      await client.start();
      this.statusBar.server({ model: "", indexing: "" });
    } catch (err) {
      const message = `asm-lsp: the server ${describeCommand(server)} failed to start: ${String(err)}`;
      this.output.appendLine(message);
      this.statusBar.failed(message);
      void vscode.window.showErrorMessage(message, "Show Output").then((c) => {
        if (c) this.output.show();
      });
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    try {
      if (client.isRunning()) await client.stop(5000);
    } catch (err) {
      this.output.appendLine(`stopping the server: ${String(err)}`);
    }
    await client.dispose().catch(() => undefined);
    this.statusBar.stopped();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private onConfigurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (e.affectsConfiguration(`${SECTION}.server`)) {
      this.output.appendLine("asmLsp.server.* changed; restarting the server");
      void this.restart();
      return;
    }
    const program = PROGRAM_KEYS.find((key) => e.affectsConfiguration(`${SECTION}.${key}`));
    if (program !== undefined && this.client?.isRunning()) {
      // Programs and files come only from initializationOptions: start again with the new value.
      this.output.appendLine(`asmLsp.${program} changed; restarting the server`);
      void this.restart();
      return;
    }
    if (e.affectsConfiguration(SECTION) && this.client?.isRunning()) {
      void this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: this.settings.workspace() },
      });
    }
  }

  private runningClient(): LanguageClient | undefined {
    if (this.client?.isRunning()) return this.client;
    void vscode.window.showWarningMessage("asm-lsp: the language server is not running.", "Restart").then((c) => {
      if (c) void this.restart();
    });
    return undefined;
  }

  private async showSimilarFunctions(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || editor.document.languageId !== LANGUAGE_ID) {
      void vscode.window.showInformationMessage("asm-lsp: open an AArch64 assembly file and place the cursor in a function.");
      return;
    }
    const client = this.runningClient();
    if (client === undefined) return;
    const position = editor.selection.active;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "asm-lsp: finding similar functions" },
      (_progress, token) =>
        client.sendRequest(
          ExecuteCommandRequest.type,
          {
            command: "asmLsp.similarFunctions",
            arguments: [editor.document.uri.toString(), client.code2ProtocolConverter.asPosition(position)],
          },
          token,
        ),
    );
    const lspLocations = Array.isArray(result) ? (result as LspLocation[]) : [];
    if (lspLocations.length === 0) {
      void vscode.window.showInformationMessage("asm-lsp: no similar functions found.");
      return;
    }
    const locations = lspLocations.map((l) => client.protocol2CodeConverter.asLocation(l));
    await vscode.commands.executeCommand("editor.action.peekLocations", editor.document.uri, position, locations, "peek");
  }

  private async showModelStatus(): Promise<void> {
    const client = this.runningClient();
    if (client === undefined) return;
    const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, {
      command: "asmLsp.modelStatus",
      arguments: [],
    });
    this.modelStatusOutput.clear();
    this.modelStatusOutput.appendLine(modelStatusText(result));
    this.modelStatusOutput.show(true);
  }

  /** llvm-mca on the selected lines, or on the function at the cursor when nothing is selected. */
  private async showPipelineAnalysis(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || editor.document.languageId !== LANGUAGE_ID) {
      void vscode.window.showInformationMessage("asm-lsp: open an AArch64 assembly file and select lines or place the cursor in a function.");
      return;
    }
    const client = this.runningClient();
    if (client === undefined) return;
    const result: unknown = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "asm-lsp: running llvm-mca" },
      (_progress, token) =>
        client.sendRequest(
          ExecuteCommandRequest.type,
          {
            command: "asmLsp.analyzeThroughput",
            arguments: [editor.document.uri.toString(), client.code2ProtocolConverter.asRange(editor.selection)],
          },
          token,
        ),
    );
    const answer = analysisAnswer(result);
    if (!answer.ok) return; // the server has said why (window/showMessage)
    // A read-only document beside the code, from its top (an output channel shows its end).
    const uri = vscode.Uri.from({ scheme: ANALYSIS_SCHEME, path: "/pipeline-analysis.md" });
    this.analyses.set(uri.toString(), answer.markdown);
    this.analysisChanged.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
  }

  dispose(): void {
    void this.stop();
    this.statusBar.dispose();
    this.output.dispose();
    this.traceOutput.dispose();
    this.modelStatusOutput.dispose();
    this.analysisChanged.dispose();
  }
}

let extension: AsmLspExtension | undefined;

export function activate(context: vscode.ExtensionContext): void {
  extension = new AsmLspExtension(context);
  // Not awaited: probing `--version` can take seconds and must not hold up activation.
  void extension.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
