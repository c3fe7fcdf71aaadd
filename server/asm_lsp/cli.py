"""Command line: ``asm-lsp --stdio`` serves LSP; subcommands run features from the shell.

pygls's own CLI rejects ``--stdio`` (which every editor appends), so this is ours.
In server mode file descriptor 1 is handed to the JSON-RPC writer and then pointed at
stderr, so that nothing else (a stray print, llama.cpp's C logging) can reach the channel.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from asm_lsp import VERSION_LINE


def _add_shared(parser: argparse.ArgumentParser, default: object) -> None:
    """Flags accepted before and after a subcommand (``default``: SUPPRESS on subparsers)."""
    def d(value: object) -> object:
        return value if default is None else default

    parser.add_argument("-v", "--verbose", action="count", default=d(0), help="more logging (-v info, -vv debug)")
    parser.add_argument("--log-file", type=Path, default=d(None), help="also write the log to this file")
    parser.add_argument("--model", default=d(None), help="GGUF model file to use instead of the embedded base model")
    parser.add_argument("--adapter", default=d(None), help='LoRA adapter GGUF, "none", or "default" (the shipped one)')
    parser.add_argument("--cache-dir", default=d(""), help="where the assembled model is kept (default $XDG_CACHE_HOME/asm-lsp)")
    parser.add_argument("--model-size", choices=("0.5b", "1.5b"), default=d(None),
                        help="the packaged model to use (default 0.5b; 1.5b needs the model-1.5b extra)")
    parser.add_argument("--gpu-layers", type=int, default=d(None),
                        help="model layers on the GPU: -1 all (default, when llama.cpp has a GPU backend), 0 none")
    parser.add_argument("--no-model", action="store_true", default=d(False), help="run without the code model (classic features only)")
    parser.add_argument("--assembler", default=d(None), help="assembler program for diagnostics (default: aarch64-linux-gnu-as, llvm-mc)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asm-lsp",
        description="Language server for AArch64 GNU assembly (Python, pygls) with a fine-tuned code model.",
        epilog="With no subcommand, serves LSP on stdio. Line and column arguments are 1-based, as editors show them.",
    )
    parser.add_argument("--version", action="version", version=VERSION_LINE)
    parser.add_argument("--stdio", action="store_true", help="serve LSP over stdin/stdout (the default)")
    parser.add_argument("--tcp", action="store_true", help="serve LSP over TCP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="TCP address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    _add_shared(parser, None)
    shared = argparse.ArgumentParser(add_help=False)
    _add_shared(shared, argparse.SUPPRESS)  # the same flags after a subcommand; don't reset earlier ones

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    complete = sub.add_parser("complete", parents=[shared], help="print the model's suggestion at FILE:LINE:COL")
    complete.add_argument("spec", help="FILE:LINE:COL, 1-based line and column")
    complete.add_argument("--max-lines", type=int, default=8,
                          help="most lines the model decodes (default 8); printed: as an editor shows them")
    complete.add_argument("--all-lines", action="store_true",
                          help="wait for and print every decoded line (up to --max-lines), not only what an editor shows")
    complete.add_argument("--json", action="store_true", help="print a JSON object with timings")
    complete.add_argument("--threads", type=int, default=0, help="CPU threads (default: physical cores)")
    model = sub.add_parser("model", parents=[shared], help="model commands")
    model.add_argument("action", choices=["status", "fetch"], help="status: where it runs, which weights, sizes, hashes; fetch: assemble (and merge) the model now")
    symbols = sub.add_parser("symbols", parents=[shared], help="list the functions and labels of assembly files")
    symbols.add_argument("files", nargs="+", type=Path)
    check = sub.add_parser("check", parents=[shared], help="assemble files and print diagnostics like a compiler")
    check.add_argument("files", nargs="+", type=Path)
    hover = sub.add_parser("hover", parents=[shared], help="print the hover text at FILE:LINE:COL")
    hover.add_argument("spec", help="FILE:LINE:COL, 1-based line and column")
    similar = sub.add_parser("similar", parents=[shared], help="functions most similar to those in the given files")
    similar.add_argument("paths", nargs="+", type=Path, help="files to query; the workspace is --workspace")
    similar.add_argument("--function", help="only this function")
    similar.add_argument("--top", type=int, default=5, help="how many similar functions to list")
    similar.add_argument("--workspace", type=Path, default=Path("."), help="folder to search in (default .)")
    index = sub.add_parser("index", parents=[shared], help="index a folder's functions (embeddings cache)")
    index.add_argument("directory", type=Path)
    from asm_lsp.analysis import commands as analysis_commands

    analysis_commands.add_arguments(sub.add_parser("mca", parents=[shared],
                                                   help="llvm-mca pipeline analysis of a function or lines"))
    return parser


def setup_logging(verbose: int, log_file: Path | None) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            print(f"asm-lsp: cannot write log file {log_file}: {exc}", file=sys.stderr)
    logging.basicConfig(level=level, handlers=handlers, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose == 0:
        # llama.cpp's own warnings at load ("control-looking token ... probably a bug in the
        # model", "pooling_type ... was specified") say nothing a user can act on: -v shows them.
        logging.getLogger("asm_lsp.model.llama_cpp").setLevel(logging.ERROR)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Settings given on the command line; they win over the client's."""
    overrides: dict[str, Any] = {}
    model: dict[str, Any] = {}
    if args.model:
        model["path"] = args.model
    if args.adapter:
        model["adapter"] = args.adapter
    if args.cache_dir:
        model["cacheDir"] = args.cache_dir
    if args.model_size:
        model["size"] = args.model_size
    if args.gpu_layers is not None:
        model["gpuLayers"] = args.gpu_layers
    if args.no_model:
        model["enabled"] = False
    if model:
        overrides["model"] = model
    if args.assembler:
        overrides["assembler"] = {"path": args.assembler}
    return overrides


def serve(args: argparse.Namespace) -> int:
    from asm_lsp.server import create_server

    server = create_server(overrides_from_args(args))
    # Parsing and indexing threads hold the GIL while the event loop waits for it: hand it
    # over after 1 ms instead of Python's 5 ms (each request waits for it several times).
    sys.setswitchinterval(0.001)
    if args.tcp:
        server.start_tcp(args.host, args.port)
        return 0
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # C code writing to fd 1 now lands on stderr
    sys.stdout = sys.stderr
    server.start_io(sys.stdin.buffer, channel)
    # LSP: exit code 0 only if `shutdown` came before `exit` (or the client hung up after it).
    return 0 if getattr(server.protocol, "_shutdown", False) else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.verbose, args.log_file)
    if args.command is None:
        return serve(args)
    from asm_lsp import commands

    return commands.run(args, overrides_from_args(args))


if __name__ == "__main__":
    raise SystemExit(main())
