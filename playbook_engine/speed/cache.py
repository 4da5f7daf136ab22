"""A cache of validated libraries, so that `playbook run` does not re-validate on every call.

`playbook run` needs a library that validates; proving that costs YAML parsing, schema checks,
semantic checks and compiling every template — far more than evaluating one incident. The
first run stores the validated `Library` model; later runs load it back and compile only
what the incident reaches (`compiler.compile_library(..., lazy=True)`).

An entry is trusted only when everything it was built from is unchanged:

- the key holds the engine (version, Python version, and the size and modification time of
  every module and schema file, so an edited engine counts as a new one), the working
  directory and library root as given (diagnostic paths are shown relative to them), and
  the path, size, modification time, change time and inode of every library file found by
  `library.discover` — an edited, added, removed or renamed file changes it;
- a file modified less than `RACY_NS` before the entry was written could change again
  without its time changing (coarse file-system clocks): its content hash is stored and
  checked on every load, as git does for "racily clean" index entries;
- the entry is pickled, and a pickle is code: every entry carries an HMAC-SHA256 of its
  bytes keyed by a per-user secret (`secret.key`, 32 random bytes, mode 0600, owned by the
  user). An entry whose HMAC does not match — corrupt, truncated, or written by someone
  else — is never unpickled; it is rebuilt. A secret that is not the user's own, private,
  regular file disables the cache.

Writes go to a temporary file renamed into place, so concurrent runs read either the old or
the new entry, never half of one. Any failure to read or write the cache only costs speed.

Beside the entries, `code/` keeps the Python code Jinja2 generated for the templates that
warm runs rendered and `playbook validate` compiled, and the names each template reads
(`CodeStore`, set by `stores.use_code_store`): one file per template, named by a hash
of the engine's identity, the Jinja2 version, the output mode and the source, and
HMAC-checked with the same secret (over its name and bytes) before it is unmarshalled.

Location: `$PLAYBOOK_CACHE_DIR`, else `$XDG_CACHE_HOME/playbook-engine`, else
`~/.cache/playbook-engine`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import io
import os
import pickle
import stat
import sys
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from playbook_engine import __version__
from playbook_engine.compile.compiler import (
    CompiledLibrary,
    DeferredPlaybook,
    PlaybookHead,
    SelectionIndex,
    compile_library,
    merge_order,
    selection_index,
)
from playbook_engine.diagnostics import Diagnostic, InputError, Span, error
from playbook_engine.load.discovery import discover, incident_fields
from playbook_engine.model import AllOf, AnyOf, Condition, Expr, Leaf, Library, Not, Playbook
from playbook_engine.speed import stores
from playbook_engine.speed.lifetime import collector_paused

MAGIC = b"playbook-engine-cache/1\n"
CODE_MAGIC = b"playbook-engine-code/1\n"
SECRET_NAME = "secret.key"
SECRET_BYTES = 32
RACY_NS = 3_000_000_000
"""Files modified this close to the entry's writing have their content checked on each load."""

FileKey = tuple[str, int, int, int, int]  # relative path, size, mtime_ns, ctime_ns, inode


def cache_dir() -> Path:
    """Where entries live: `$PLAYBOOK_CACHE_DIR`, `$XDG_CACHE_HOME/playbook-engine` or
    `~/.cache/playbook-engine`."""
    configured = os.environ.get("PLAYBOOK_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "playbook-engine"
    return Path.home() / ".cache" / "playbook-engine"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What an entry must have been built from to be used."""

    engine: tuple[str, ...]
    place: tuple[str, str]  # working directory, library root as given
    files: tuple[FileKey, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    """What one cache file holds (see the module docstring)."""

    fingerprint: Fingerprint
    racy: tuple[tuple[str, str], ...]  # (relative path, sha256 of content)
    library: Library  # without its playbooks:
    # (id, order, fallback, `appliesWhen` pickled or None, the playbook pickled), in file
    # order: a hit unpickles only the conditions selection tests and the playbooks it uses.
    playbooks: tuple[tuple[str, int, bool, bytes | None, bytes], ...]
    selection: SelectionIndex  # over the playbooks in merge order


def _stat_key(path: str, relative: str) -> FileKey:
    st = os.stat(path)
    return (relative, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def engine_fingerprint() -> tuple[str, ...]:
    """The engine's identity: versions plus the size and time of every module and schema."""
    from playbook_engine.load.schema import schemas_dir

    parts = [__version__, sys.version, str(pickle.HIGHEST_PROTOCOL)]
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    for folder, suffix, deep in ((package, ".py", True), (str(schemas_dir()), ".json", False)):
        for directory, subdirs, names in os.walk(folder):
            subdirs[:] = sorted(d for d in subdirs if deep and d != "__pycache__")
            for name in sorted(names):
                if name.endswith(suffix):
                    st = os.stat(os.path.join(directory, name))
                    where = os.path.relpath(os.path.join(directory, name), folder)
                    parts.append(f"{where}:{st.st_size}:{st.st_mtime_ns}")
    return tuple(parts)


def _jinja2_version() -> str:
    """Jinja2's version (its generated code is stored), read from its package's first module
    rather than imported: a check the store answers needs no Jinja2."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("jinja2")
        if spec is not None and spec.origin:
            with open(spec.origin, encoding="utf-8") as source:
                for line in source:
                    if line.startswith("__version__"):
                        return line.split("=", 1)[1].strip().strip("\"'")
    except (OSError, ImportError, ValueError):
        pass
    import jinja2  # an unusual installation: ask it

    return jinja2.__version__


def fingerprint(root: Path) -> Fingerprint:
    """The fingerprint of the library at `root` as it is now."""
    prefix = os.path.join(str(root), "")
    files = []
    for path in discover(root):
        text = str(path)
        # `discover` joins onto `root` as given: cut the prefix (pathlib is 10x slower here).
        relative = text[len(prefix) :] if text.startswith(prefix) else str(path.relative_to(root))
        files.append(_stat_key(text, relative))
    return Fingerprint(engine_fingerprint(), (os.getcwd(), str(root)), tuple(files))


class LibraryCache:
    """Entries in one cache directory; every method fails soft (returns None / does nothing)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def entry_path(self, print_: Fingerprint) -> Path:
        """One entry per (working directory, library root)."""
        name = hashlib.sha256("\0".join(print_.place).encode()).hexdigest()[:32]
        return self.directory / f"{name}.lib"

    def secret(self, create: bool) -> bytes | None:
        """The per-user HMAC key; None if it is missing (and not created) or not private."""
        path = self.directory / SECRET_NAME
        try:
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            return self._new_secret(path) if create else None
        except OSError as exc:
            _no_cache(f"{path} cannot be read: {exc.strerror or exc}")
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                _no_cache(f"{path} is not a regular file")
                return None
            if st.st_mode & 0o077 or st.st_uid != os.getuid():
                _no_cache(f"{path} is not private to this user")
                return None
            key = os.read(fd, SECRET_BYTES + 1)
        finally:
            os.close(fd)
        if len(key) != SECRET_BYTES:
            _no_cache(f"{path} is damaged: remove it and the cache starts afresh")
            return None
        return key

    def _new_secret(self, path: Path) -> bytes | None:
        """A new key, written aside and linked into place whole: a full disk leaves no empty
        key behind (which would disable the cache for good), and two runs agree on one key."""
        temp = self.directory / f".{SECRET_NAME}.{os.getpid()}"
        key = os.urandom(SECRET_BYTES)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temp, path)  # fails if another run made one first: use theirs
        except FileExistsError:
            return self.secret(create=False)
        except OSError as exc:
            _no_cache(f"{self.directory} cannot hold the cache: {exc.strerror or exc}")
            return None
        finally:
            temp.unlink(missing_ok=True)
        return key

    def read(self, path: Path) -> _Entry | None:
        """The entry in `path` if its HMAC checks out and it unpickles, else None."""
        key = self.secret(create=False)
        if key is None:
            return None
        blob = _read_regular(path, MAX_ENTRY_BYTES)
        if blob is None or not blob.startswith(MAGIC):
            return None
        head = len(MAGIC)
        mac, payload = blob[head : head + 32], blob[head + 32 :]
        if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
            return None
        try:
            with collector_paused():  # it would run many times over the objects being built
                entry = pickle.loads(payload)
        except Exception:  # authentic but unreadable (an engine change pickle cannot follow)
            return None
        return entry if isinstance(entry, _Entry) else None

    def load(self, root: Path, print_: Fingerprint) -> _Entry | None:
        """The cached entry for this fingerprint, or None."""
        entry = self.read(self.entry_path(print_))
        if entry is None or entry.fingerprint != print_:
            return None
        for relative, digest in entry.racy:
            if _digest(root / relative) != digest:
                return None
        return entry

    def load_last_valid(self, print_: Fingerprint) -> tuple[_Entry, float] | None:
        """The entry of the last library that validated at this place (working directory and
        root) with this engine, whatever its files are now, and when it was written; None if
        there is none. Still authenticated: an entry is only ever written for a library that
        validated, and holds all of it (the documents as they were then)."""
        path = self.entry_path(print_)
        entry = self.read(path)
        if entry is None:
            return None
        if (entry.fingerprint.engine, entry.fingerprint.place) != (print_.engine, print_.place):
            return None
        try:
            written = path.stat().st_mtime
        except OSError:
            return None
        return entry, written

    def begin(self, root: Path, print_: Fingerprint) -> _Pending | None:
        """Start an entry for the files of `print_`, before the library is read: content
        hashes taken now can only be older than what the loader reads, never newer."""
        key = self.secret(create=True)
        if key is None:
            return None
        import tempfile  # here: its imports (random, weakref) would cost every warm run

        try:
            fd, temp = tempfile.mkstemp(prefix=".entry.", dir=self.directory)
        except OSError:
            return None
        # The file system's clock, not ours: files this recent may change unseen.
        now = os.fstat(fd).st_mtime_ns
        racy = tuple((f[0], _digest(root / f[0])) for f in print_.files if f[2] > now - RACY_NS)
        return _Pending(key, fd, Path(temp), self.entry_path(print_), print_, racy)


class _Pending:
    """An entry being written: `commit` it with the library, or `abort`."""

    def __init__(
        self,
        key: bytes,
        fd: int,
        temp: Path,
        target: Path,
        print_: Fingerprint,
        racy: tuple[tuple[str, str], ...],
    ) -> None:
        self.key, self.fd, self.temp, self.target = key, fd, temp, target
        self.print_, self.racy = print_, racy

    def commit(self, library: Library) -> None:
        """Write the entry and rename it into place; on any failure, leave no trace."""
        try:
            heads = [PlaybookHead.of(p) for p in library.playbooks]
            selection = selection_index([heads[i] for i in merge_order(heads)])
            playbooks = tuple(
                (
                    p.id,
                    p.order,
                    p.fallback,
                    None if p.applies_when is None else _dumps(p.applies_when),
                    _dumps(p),
                )
                for p in library.playbooks
            )
            empty = replace(library, playbooks=())
            entry = _Entry(self.print_, self.racy, empty, playbooks, selection)
            payload = _dumps(entry)
            mac = hmac.new(self.key, payload, hashlib.sha256).digest()
            with os.fdopen(self.fd, "wb") as handle:
                handle.write(MAGIC + mac + payload)
            os.replace(self.temp, self.target)
        except (OSError, pickle.PicklingError):
            self.temp.unlink(missing_ok=True)  # no cache today: the run itself is unaffected

    def abort(self) -> None:
        """Drop the entry (the library did not validate)."""
        os.close(self.fd)
        self.temp.unlink(missing_ok=True)


class FileCodeStore:
    """Compiled template code in `directory`, one HMAC-checked file per key (a
    `stores.CodeStore`); every method fails soft.

    Every edit of a file and every new engine writes new entries, so the folder is pruned:
    at most once a day (the time of a marker file beside it says when it last was), the
    first process to write finds whether it holds more than `max_files` entries and, if so,
    removes the older-written half. A removed entry only costs its recomputation.
    """

    max_files = 50_000
    prune_every_ns = 24 * 3600 * 1_000_000_000

    def __init__(self, directory: Path, key: bytes, engine: tuple[str, ...]) -> None:
        self.directory, self.key = directory, key
        self.ready = False  # the folder exists (and pruning has been considered)
        identity = "\0".join((*engine, _jinja2_version()))
        self.salt = hashlib.sha256(identity.encode()).digest()

    def _name(self, key: str) -> str:
        return hashlib.sha256(self.salt + key.encode("utf-8", "surrogatepass")).hexdigest()

    def _mac(self, name: str, payload: bytes) -> bytes:
        return hmac.new(self.key, name.encode() + payload, hashlib.sha256).digest()

    def get(self, key: str) -> bytes | None:
        """The code stored under `key` if its HMAC matches, else None."""
        name = self._name(key)
        blob = _read_regular(self.directory / name, MAX_CODE_BYTES)
        if blob is None:
            return None
        head = len(CODE_MAGIC)
        mac, payload = blob[head : head + 32], blob[head + 32 :]
        if not blob.startswith(CODE_MAGIC):
            return None
        if not hmac.compare_digest(mac, self._mac(name, payload)):
            return None
        return payload

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (written aside, renamed into place)."""
        name = self._name(key)
        # A first validate stores thousands of these: one folder check per store, and a
        # per-process temporary name instead of `mkstemp` (the HMAC, not the name, is what
        # makes a file trusted).
        temp = self.directory / f".{name}.{os.getpid()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        try:
            first = not self.ready
            if first:
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                self.ready = True
            fd = os.open(temp, flags, 0o600)
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(CODE_MAGIC + self._mac(name, data) + data)
            os.replace(temp, self.directory / name)
            if first:  # the file just written tells the time (the file system's clock)
                self._prune_if_due(os.stat(self.directory / name).st_mtime_ns)
        except OSError:
            temp.unlink(missing_ok=True)

    def _prune_if_due(self, now: int) -> None:
        marker = self.directory.with_name(self.directory.name + ".pruned")  # beside it
        try:
            last = marker.stat().st_mtime_ns
        except OSError:
            last = 0
        if last and now - last < self.prune_every_ns:
            return
        marker.touch()
        entries = []
        with os.scandir(self.directory) as found:
            for entry in found:
                if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                    entries.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
        if len(entries) <= self.max_files:
            return
        entries.sort()
        for _, path in entries[: len(entries) // 2]:
            with contextlib.suppress(OSError):
                os.unlink(path)


class _Pickler(pickle.Pickler):
    """Pickles dataclasses as calls of their constructor: unpickling a frozen, slotted
    dataclass by its `__setstate__` costs about twice as much."""

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if isinstance(obj, type) or not dataclasses.is_dataclass(cls):
            return NotImplemented
        fields = dataclasses.fields(cls)
        if not all(f.init for f in fields):
            return NotImplemented
        return cls, tuple(getattr(obj, f.name) for f in fields)


def _dumps(value: _Entry | Playbook | Condition) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _condition(blob: bytes | None) -> Condition | None:
    """A playbook's `appliesWhen` from an entry, unpickled when selection first tests it."""
    if blob is None:
        return None
    condition = pickle.loads(blob)
    if not isinstance(condition, Leaf | Expr | AllOf | AnyOf | Not):
        raise TypeError("a cache entry's condition is not a condition")
    return condition


def _playbook(blob: bytes) -> Playbook:
    """A playbook of an entry, unpickled on first use (the entry's HMAC covered its bytes)."""
    playbook = pickle.loads(blob)
    if not isinstance(playbook, Playbook):
        raise TypeError("a cache entry's playbook is not a Playbook")
    return playbook


def _digest(path: Path) -> str:
    content = _read_regular(path, MAX_ENTRY_BYTES)
    return "" if content is None else hashlib.sha256(content).hexdigest()


# A cache file is opened without following a link and without waiting (a FIFO put in its
# place would block the open), read only if it is a regular file, and only up to a cap (a link
# to /dev/zero, or a huge file, costs nothing).
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
MAX_ENTRY_BYTES = 512 * 1024 * 1024
MAX_CODE_BYTES = 16 * 1024 * 1024


def _read_regular(path: Path, cap: int) -> bytes | None:
    """The bytes of the regular file at `path` (not a link, FIFO, device or directory, at
    most `cap` bytes), else None: a damaged cache means no cache, never a hang."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)  # before any buffered reader: fdopen refuses a directory itself
        if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            content = handle.read(cap + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return content if len(content) <= cap else None


_noted: set[str] = set()


def _no_cache(reason: str) -> None:
    """Say once, on standard error, why this run goes without the cache (it is only slower)."""
    if reason not in _noted:
        _noted.add(reason)
        sys.stderr.write(f"playbook: no library cache: {reason}\n")
    return None


def open_code_store(engine: tuple[str, ...] | None = None, create: bool = True) -> None:
    """Keep compiled template code in the cache's `code/` folder for the rest of the process
    (see `stores.use_code_store`); without a private secret (or with `create=False`, none
    yet), nowhere. `engine` is `engine_fingerprint()` when already known."""
    directory = cache_dir()
    key = LibraryCache(directory).secret(create)
    engine = engine if engine is not None else engine_fingerprint()
    stores.use_code_store(FileCodeStore(directory / "code", key, engine) if key else None)


@dataclass(frozen=True, slots=True)
class LastValid:
    """A run served by the last library that validated: the current one's errors, and when
    the one used was validated (seconds since 1970)."""

    errors: list[Diagnostic]
    validated_at: float


def library_for_run(root: Path, use_cache: bool = True) -> tuple[CompiledLibrary, LastValid | None]:
    """`cached_library`, except that a library that does not validate falls back to the last
    one that did at this place (the cache keeps it): at 3 a.m. one broken playbook must not
    stop every plan. The second value says so (None: the library is current). Without such a
    library, raises `InputError` as `cached_library` does."""
    try:
        return cached_library(root, use_cache), None
    except InputError as exc:
        library_errors = any(d.code.startswith("PB") for d in exc.diagnostics)
        if not use_cache or not library_errors or not root.is_dir():
            raise
        cache = LibraryCache(cache_dir())
        found = cache.load_last_valid(fingerprint(root))
        if found is None:
            raise
        entry, written = found
        return _compiled(entry), LastValid(list(exc.diagnostics), written)


def _compiled(entry: _Entry) -> CompiledLibrary:
    """The library of a cache entry, its playbooks loaded when first used."""
    # Only the templates this run renders are compiled, so only those are stored.
    open_code_store(entry.fingerprint.engine, create=False)
    deferred = [
        DeferredPlaybook(
            ident, order, fallback, partial(_condition, when), partial(_playbook, blob)
        )
        for ident, order, fallback, when, blob in entry.playbooks
    ]
    compiled, _ = compile_library(entry.library, incident_fields(), True, deferred, entry.selection)
    return compiled


def cached_library(root: Path, use_cache: bool = True) -> CompiledLibrary:
    """The compiled library at `root`, from the cache when it is current; raises `InputError`
    if the library does not validate (a library with errors is never cached)."""
    if not root.is_dir():
        raise InputError([error("PB111", "library directory not found", Span(str(root)))])
    cache = LibraryCache(cache_dir()) if use_cache else None
    print_ = fingerprint(root) if cache else None
    if cache and print_:
        entry = cache.load(root, print_)
        if entry is not None:
            return _compiled(entry)
    stores.use_code_store(None)
    pending = cache.begin(root, print_) if cache and print_ else None
    try:
        # The pipeline (checks, lint, build, loading) is imported only on a miss: a run served
        # from the cache never needs it.
        from playbook_engine.pipeline import load_library

        result = load_library(root)
    except BaseException:
        if pending:
            pending.abort()
        raise
    if not result.ok or result.compiled is None:
        if pending:
            pending.abort()
        raise InputError([d for d in result.diagnostics if d.is_error])
    if pending:
        pending.commit(result.compiled.library)
    return result.compiled
