"""Build checks for the VS Code extension in vscode-client/.

Runs `npm run typecheck`, `npm run lint`, `npm test` and `npm run package`, then
checks the .vsix. Those are skipped unless npm exists and either ASM_LSP_TEST_VSCODE=1
or vscode-client/node_modules exists (with ASM_LSP_TEST_VSCODE=1 on a fresh checkout
`npm ci` runs first). The settings cross-check needs only the server package. Test data: the vscode-client/ sources themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parent.parent / "vscode-client"
VSIX = CLIENT / "asm-lsp-aarch64.vsix"
NPM = shutil.which("npm")

needs_npm = pytest.mark.skipif(
    NPM is None
    or (os.environ.get("ASM_LSP_TEST_VSCODE") != "1" and not (CLIENT / "node_modules").is_dir()),
    reason="needs npm, and ASM_LSP_TEST_VSCODE=1 or `npm ci` done in vscode-client",
)


def npm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    assert NPM is not None
    result = subprocess.run(
        [NPM, *args], cwd=CLIENT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed() -> None:
    if not (CLIENT / "node_modules").is_dir():
        npm("ci")


@needs_npm
@pytest.mark.parametrize("script", ["typecheck", "lint", "test"])
def test_npm_script_passes(installed: None, script: str) -> None:
    npm("run", script)


@needs_npm
def test_package_builds_a_small_vsix_with_bundle_and_grammar(installed: None) -> None:
    VSIX.unlink(missing_ok=True)
    npm("run", "package")
    with zipfile.ZipFile(VSIX) as vsix:
        names = set(vsix.namelist())
        manifest = json.loads(vsix.read("extension/package.json"))
    assert {
        "extension/package.json",
        "extension/dist/extension.js",
        "extension/syntaxes/aarch64-asm.tmLanguage.json",
        "extension/language-configuration.json",
    } <= names
    # .vscodeignore keeps sources, tests and node_modules out.
    assert not [n for n in names if n.startswith(("extension/node_modules/", "extension/src/", "extension/test/"))]
    assert manifest["main"] == "./dist/extension.js"
    assert manifest["contributes"]["languages"][0]["id"] == "aarch64-asm"
    assert manifest["contributes"]["grammars"][0]["path"] == "./syntaxes/aarch64-asm.tmLanguage.json"
    assert VSIX.stat().st_size < 1_000_000


def test_contributed_defaults_match_the_server_settings() -> None:
    """package.json's `asmLsp.*` defaults equal server/asm_lsp/settings.py's."""
    import asm_lsp.settings as settings
    manifest = json.loads((CLIENT / "package.json").read_text(encoding="utf-8"))
    contributed = {
        key: spec["default"]
        for key, spec in manifest["contributes"]["configuration"]["properties"].items()
        if not key.startswith("asmLsp.server.") and key != "asmLsp.trace.server"
    }
    expected = {}
    for section in settings.Settings.__dataclass_fields__:
        for name, value in vars(getattr(settings.Settings(), section)).items():
            camel = name.split("_")[0] + "".join(w.title() for w in name.split("_")[1:])
            expected[f"asmLsp.{section}.{camel}"] = value
    assert contributed == expected


def e2e_tools() -> Path | None:
    """code-server as e2e/setup.sh installs it (a folder outside the repository), if it is there."""
    node = shutil.which("node")
    if node is None:
        return None
    where = subprocess.run([node, str(CLIENT / "e2e" / "tools.mjs"), "dir"], capture_output=True, text=True,
                           check=False).stdout.strip()
    done = Path(where) / ".asm-lsp-e2e-complete" if where else None
    return Path(where) if done is not None and done.is_file() else None


E2E_TOOLS = e2e_tools()


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.skipif(os.environ.get("ASM_LSP_TEST_VSCODE_E2E") != "1",
                    reason="set ASM_LSP_TEST_VSCODE_E2E=1 (.ci/run does) after scripts/install-deps.sh")
def test_extension_in_code_server_shows_hover_completion_and_diagnostic() -> None:
    """The packaged extension in code-server + headless Chromium (vscode-client/e2e/run.mjs),
    with the real server and model: progress, hover, completion, diagnostic, ghost text,
    similar functions, llvm-mca. Screenshots land in vscode-client/e2e/work/artifacts/.
    Asked for (ASM_LSP_TEST_VSCODE_E2E=1), a missing part is a failure, not a skip.
    """
    assert NPM is not None, "npm not found"
    assert E2E_TOOLS is not None, "e2e tools missing: run `sh vscode-client/e2e/setup.sh`"
    assert Path("/usr/bin/chromium").exists() or os.environ.get("CHROMIUM"), "apt-get install chromium"
    if not (CLIENT / "node_modules").is_dir():
        npm("ci")
    npm("run", "package")  # never a stale .vsix
    result = npm("run", "e2e", timeout=1200)
    assert "e2e: all checks passed" in result.stdout
    checks = json.loads((CLIENT / "e2e" / "work" / "artifacts" / "result.json").read_text(encoding="utf-8"))
    assert {name: check["ok"] for name, check in checks.items()} == {
        "open demo.s": True,
        "model preparation in the status bar": True,
        "status bar item": True,
        "hover on `add`": True,
        "completion after `ldr`": True,
        "diagnostic for `addx`": True,
        "command: Show Model Status": True,
        "command: Show Similar Functions": True,
        "open loops.s": True,
        "ghost text from the model": True,
        "hover lists similar functions": True,
        "command: Analyze Throughput": True,
        "semantic colouring": True,
        "signature help": True,
    }
