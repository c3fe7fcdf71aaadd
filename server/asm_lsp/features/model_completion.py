"""Glue between the LSP server and the model engine (filled in when the engine lands)."""
from __future__ import annotations

from typing import Any


def start(ls: Any) -> None:
    return None
