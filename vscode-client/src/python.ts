import * as vscode from "vscode";

/** The few members of the ms-python.python API we use (it is optional and may change). */
interface PythonApi {
  environments?: {
    getActiveEnvironmentPath?(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment?(env: { path: string }): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
  settings?: {
    getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] } | undefined;
  };
}

function withTimeout<T>(p: Thenable<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    Promise.resolve(p),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms)),
  ]);
}

/**
 * The interpreter selected in the Python extension, best effort: undefined when the
 * extension is absent, slow (5 s) or its API has changed.
 */
export async function selectedPythonInterpreter(resource?: vscode.Uri): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonApi>("ms-python.python");
  if (ext === undefined) return undefined;
  try {
    const api = ext.isActive ? ext.exports : await withTimeout(ext.activate(), 5000);
    if (api === undefined) return undefined;
    const active = api.environments?.getActiveEnvironmentPath?.(resource);
    if (active !== undefined && api.environments?.resolveEnvironment !== undefined) {
      const resolved = await withTimeout(api.environments.resolveEnvironment(active), 5000);
      const exe = resolved?.executable?.uri?.fsPath;
      if (exe) return exe;
    }
    return api.settings?.getExecutionDetails?.(resource)?.execCommand?.[0];
  } catch {
    return undefined;
  }
}
