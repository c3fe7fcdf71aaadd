"""On-disk embedding cache: (sha256 of normalised function text, model identity) -> float16 vector,
plus each workspace file's functions as last parsed (size + mtime), so that reopening a
workspace reads no file it has seen unchanged.

One sqlite file (WAL mode, so a reader never waits for the writer). The cache is ours and
disposable: a file that is corrupt or not a database is renamed aside
(``embeddings.sqlite.bad-<time>``) and a fresh one is made; a file locked past a short
timeout (another process holds it) is left alone and this store works in memory, as it
does when nothing else works. It never raises to its caller; problems go
to the log and to :attr:`EmbeddingStore.note`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FILE_NAME = "embeddings.sqlite"
SCHEMA_VERSION = 2
_BUSY_TIMEOUT_S = 2.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
    sha TEXT NOT NULL,       -- sha256 hex of the normalised function text
    model TEXT NOT NULL,     -- model identity (base + adapter + pooling + token cap)
    dim INTEGER NOT NULL,
    vec BLOB NOT NULL,       -- float16, little-endian, dim values
    PRIMARY KEY (sha, model)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    uri TEXT PRIMARY KEY,    -- a workspace file as last parsed
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    functions TEXT NOT NULL  -- JSON [[name, line, start_line, end_line, sha], ...]
);
"""


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingStore:
    """Thread-safe cache of vectors. ``path=None`` keeps everything in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.note = ""  # what went wrong with the file, if anything (status reports)
        self._lock = threading.Lock()
        self._db = self._open()

    # ------------------------------------------------------------ opening, recovery

    def _connect(self, target: str) -> sqlite3.Connection:
        db = sqlite3.connect(target, timeout=_BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        try:
            if target != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is not None and row[0] == "1":  # 1 had no files table; the script above added it
                row = None
            if row is None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema {row[0]}, expected {SCHEMA_VERSION}")
            db.execute("SELECT count(*) FROM vectors LIMIT 1").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return self._connect(":memory:")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect(str(self.path))
        except (sqlite3.Error, OSError) as first:
            problem = f"{type(first).__name__}: {first}"
            if "locked" in str(first) or "busy" in str(first):
                # Another process (a second server) holds it: leave its file alone.
                self.note = f"embedding cache {self.path} is locked ({problem}); keeping embeddings in memory this session"
                log.warning("%s", self.note)
                return self._connect(":memory:")
        aside = self._move_aside()
        try:
            db = self._connect(str(self.path))
            self.note = f"embedding cache {self.path} was unusable ({problem}); moved to {aside}, started a new one"
            log.warning("%s", self.note)
            return db
        except (sqlite3.Error, OSError) as second:
            self.note = (f"embedding cache {self.path} unusable ({problem}; then {second}); "
                         f"keeping embeddings in memory only this session")
            log.warning("%s", self.note)
            return self._connect(":memory:")

    def _move_aside(self) -> Path | None:
        """Rename our cache file (and its WAL/SHM companions) out of the way."""
        assert self.path is not None
        if self.path.name != FILE_NAME and not self.path.name.endswith(".sqlite"):
            return None  # never rename a file that does not look like ours
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.bad-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            try:
                if source.exists():
                    source.replace(Path(str(aside) + suffix))
            except OSError as e:
                log.warning("cannot move %s aside: %s", source, e)
        return aside

    # ------------------------------------------------------------ API

    def get_many(self, shas: Iterable[str], model: str) -> dict[str, np.ndarray]:
        """Cached float32 vectors for those ``shas`` that have one."""
        wanted = list(dict.fromkeys(shas))
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):  # sqlite's variable limit
                part = wanted[start:start + 500]
                marks = ",".join("?" * len(part))
                try:
                    rows = self._db.execute(
                        f"SELECT sha, dim, vec FROM vectors WHERE model=? AND sha IN ({marks})", [model, *part]
                    ).fetchall()
                except sqlite3.Error as e:
                    self._recover(e)
                    return found
                for sha, dim, blob in rows:
                    if len(blob) == 2 * dim:
                        found[sha] = np.frombuffer(blob, dtype="<f2").astype(np.float32)
        return found

    def get(self, sha: str, model: str) -> np.ndarray | None:
        return self.get_many([sha], model).get(sha)

    def put_many(self, items: Iterable[tuple[str, np.ndarray]], model: str) -> None:
        rows = [(sha, model, int(vec.shape[0]), np.asarray(vec, dtype="<f2").tobytes()) for sha, vec in items]
        if not rows:
            return
        self._write_many("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        """``executemany`` in one transaction; a failure rolls back and recovers the file."""
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if self._recover(e):  # now in memory: keep this batch there
                    try:
                        self._db.executemany(sql, rows)
                    except sqlite3.Error:
                        log.exception("embedding cache: in-memory write failed")

    def put(self, sha: str, vec: np.ndarray, model: str) -> None:
        self.put_many([(sha, vec)], model)

    def get_file(self, uri: str, size: int, mtime_ns: int) -> list[list] | None:
        """The functions recorded for ``uri`` if its size and mtime are unchanged since."""
        with self._lock:
            try:
                row = self._db.execute("SELECT size, mtime_ns, functions FROM files WHERE uri=?", (uri,)).fetchone()
            except sqlite3.Error as e:
                self._recover(e)
                return None
        if row is None or row[0] != size or row[1] != mtime_ns:
            return None
        try:
            functions = json.loads(row[2])
        except ValueError:
            return None
        return functions if isinstance(functions, list) else None

    def put_files(self, rows: Iterable[tuple[str, int, int, list[list]]]) -> None:
        data = [(uri, size, mtime, json.dumps(functions)) for uri, size, mtime, functions in rows]
        if not data:
            return
        self._write_many("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", data)

    def count(self, model: str | None = None) -> int:
        with self._lock:
            try:
                if model is None:
                    return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])
                return int(self._db.execute("SELECT count(*) FROM vectors WHERE model=?", (model,)).fetchone()[0])
            except sqlite3.Error:
                return 0

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    def _recover(self, error: sqlite3.Error) -> bool:
        """A read or write failed mid-session (file replaced, corrupted, locked): start over.

        Called with ``self._lock`` held. Losing cached vectors only costs recomputation.
        True when the file cannot be written (full, read-only) and the store went to memory."""
        try:
            self._db.close()
        except sqlite3.Error:
            pass
        if self.path is not None and _cannot_write(error):  # disk full, read-only: the file would fail again
            self.note = f"embedding cache {self.path} cannot be written ({error}); keeping embeddings in memory this session"
            log.warning("%s", self.note)
            self._db = self._connect(":memory:")
            return True
        log.warning("embedding cache %s failed (%s); rebuilding it", self.path, error)
        self._db = self._open()
        if not self.note:
            self.note = f"embedding cache {self.path} failed ({error}); rebuilt"
        return False


def _cannot_write(error: sqlite3.Error) -> bool:
    """A write the file system refused (full, read-only, I/O error), as opposed to a bad file."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY)
    text = str(error)
    return any(word in text for word in ("disk is full", "disk I/O error", "readonly"))
