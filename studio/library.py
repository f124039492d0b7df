"""The song library: SQLite (stdlib, WAL) plus the audio files beside it.

Every song belongs to one owner (an opaque id derived from a visitor key, or ``local`` when the
studio runs for one person). Every read and write takes the owner, so no query can reach another
owner's rows. Song ids are random 128-bit tokens, so ids cannot be guessed or enumerated.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio import settings
from studio.ground.errors import StudioError
from studio.song import SongRequest, SongResult, TakeResult
from studio.tasks import default_title

LIBRARY_ENV = settings.LIBRARY_DIR.name
SPACE_STORAGE = Path("/data")  # a Space's persistent storage mounts here
DB_NAME = "library.sqlite3"
AUDIO_DIR = "audio"
LOCAL_OWNER = "local"
MULTI_USER_ENV = settings.MULTI_USER.name
log = logging.getLogger(__name__)


def multi_user() -> bool:
    """On a Space (``SPACE_ID`` is set) visitors are told apart; ``STUDIO_MULTI_USER`` overrides."""
    return settings.shared_studio()
PARTIAL_SUFFIX = ".partial"
STAGING_DIR = "staging"
# Leftovers younger than this may belong to a save still running in another process.
STALE_AFTER_S = 15 * 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS songs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL,
    title TEXT NOT NULL,
    style TEXT NOT NULL,
    lyrics TEXT NOT NULL,
    backend TEXT NOT NULL,
    weights TEXT NOT NULL,
    device TEXT NOT NULL,
    dtype TEXT NOT NULL,
    seed INTEGER NOT NULL,
    duration REAL NOT NULL,
    sample_rate INTEGER NOT NULL,
    elapsed_s REAL NOT NULL,
    style_sent TEXT NOT NULL,
    lyrics_sent TEXT NOT NULL,
    request TEXT NOT NULL,
    audio TEXT NOT NULL,
    liked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS songs_owner_created ON songs (owner, created_at DESC);
CREATE TABLE IF NOT EXISTS visitors (
    owner TEXT PRIMARY KEY,
    last_seen REAL NOT NULL
);
"""
# A visitor's last visit is written at most this often: it only has to be right to within a day for
# retention (studio.retention), and a page load must not write the database every time.
SEEN_EVERY_S = 3600.0


class SongNotFound(StudioError):
    """No such song for this visitor (also what another visitor's song looks like)."""


@dataclass(frozen=True)
class Song:
    id: str
    owner: str
    created_at: float
    title: str
    style: str
    lyrics: str
    backend: str
    weights: str
    device: str
    dtype: str
    seed: int
    duration: float
    sample_rate: int
    elapsed_s: float
    style_sent: str
    lyrics_sent: str
    request: dict[str, Any]
    audio_path: Path
    liked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def song_request(self) -> SongRequest:
        """The settings that made this song (with its own seed), ready to reuse or retake."""
        return SongRequest.model_validate({**self.request, "seed": self.seed, "takes": 1})

    def public(self) -> dict[str, Any]:
        """What the API and UI may show: everything except the owner and server paths."""
        return {
            "id": self.id, "title": self.title, "style": self.style, "lyrics": self.lyrics,
            "backend": self.backend, "weights": public_source(self.weights), "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed, "duration": self.duration, "sample_rate": self.sample_rate,
            "elapsed_s": self.elapsed_s, "liked": self.liked, "created_at": self.created_at,
            "style_sent": self.style_sent, "lyrics_sent": self.lyrics_sent, "request": public_request(self.request),
            "checks": self.checks_json(),
        }

    def checks_json(self) -> dict[str, Any] | None:
        """What the studio heard in this song (studio.quality), when it was checked."""
        from studio.quality.store import load_checks

        checks = load_checks(self.audio_path)
        return None if checks is None else {"summary": checks.summary(), **checks.model_dump(mode="json")}


def public_source(source: str) -> str:
    """A Hub id as it is; a file or folder on this server by its name only (never its path)."""
    from studio import weights as weights_source

    return Path(source).name if source and weights_source.looks_local(source) else source


def public_request(request: dict[str, Any]) -> dict[str, Any]:
    """The recipe without server paths: the edited song and local LoRAs are named by file name."""
    out = dict(request)
    if out.get("source_audio"):
        out["source_audio"] = Path(str(out["source_audio"])).name
    options = dict(out.get("options") or {})
    if isinstance(options.get("loras"), list):
        options["loras"] = [
            {**item, "source": public_source(str(item.get("source", "")))} if isinstance(item, dict) else item
            for item in options["loras"]
        ]
        out["options"] = options
    return out


def default_dir() -> Path:
    """``STUDIO_LIBRARY_DIR``, else a Space's persistent /data, else a folder in the home directory."""
    explicit = settings.LIBRARY_DIR.get()
    if explicit:
        return Path(explicit).expanduser()
    if SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK):
        return SPACE_STORAGE / "song-studio"
    return Path.home() / ".song-studio" / "library"


DB_DIR_ENV = settings.LIBRARY_DB_DIR.name
SNAPSHOT_NAME = "library.snapshot.sqlite3"


def on_bucket_mount(root: Path) -> bool:
    """True for a library on a Space's persistent storage. /data is now a storage-bucket mount
    without file locking (DESIGN.md, "Storage"; huggingface.co/docs/hub/spaces-storage), where
    SQLite's WAL (locks plus a shared-memory file) is not safe."""
    try:
        return Path(root).resolve().is_relative_to(SPACE_STORAGE.resolve())
    except OSError:
        return False


def default_db_dir(root: Path) -> Path:
    """Where the database of the library at ``root`` lives: ``STUDIO_LIBRARY_DB_DIR``; for a library
    on a Space's storage mount, the local disk (a cache folder, rebuilt from the mount's snapshot
    and song cards after a restart); else beside the audio, in ``root``."""
    explicit = settings.LIBRARY_DB_DIR.get()
    if explicit:
        return Path(explicit).expanduser()
    if on_bucket_mount(root):
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        return cache / "song-studio" / "library-db"
    return Path(root)


def new_id() -> str:
    return secrets.token_urlsafe(16)


def _host() -> str:
    # No dots: the staging folder is handed to the exporter as a folder, and a dot would read as a suffix.
    return socket.gethostname().replace(".", "_")


def staging_name() -> str:
    """``<pid>~<host>~<id>``: a render's staging folder, named after the process that owns it."""
    return f"{os.getpid()}~{_host()}~{new_id()}"


def _orphaned(entry: Path) -> bool:
    """A staging folder whose process, on this host, is gone: a crash's leftover, safe to sweep now."""
    pid, _, rest = entry.name.partition("~")
    host, _, _ = rest.rpartition("~")
    if not pid.isdigit() or host != _host():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists but is not ours to signal
        return False
    return False


def _title_for(request: SongRequest, index: int, count: int) -> str:
    first_style_words = request.style.split(",")[0].strip().capitalize() if request.style else ""
    edited = default_title(request.task, request.source_audio, request.track)
    base = request.title or edited or first_style_words or "Untitled"
    return f"{base} ({index + 1})" if count > 1 else base


class Library:
    """One library folder. Thread-safe: each thread gets its own connection."""

    def __init__(self, root: Path | str | None = None, *, db_dir: Path | str | None = None) -> None:
        """``root`` holds the audio (and, when the database lives elsewhere, its snapshot);
        ``db_dir`` the SQLite database (default: :func:`default_db_dir`)."""
        self.root = Path(root) if root is not None else default_dir()
        self.audio_dir = self.root / AUDIO_DIR
        db_folder = Path(db_dir) if db_dir is not None else default_db_dir(self.root)
        try:
            self.audio_dir.mkdir(parents=True, exist_ok=True)
            db_folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudioError(
                f"cannot create the song library at {self.root} ({exc.strerror}); set {LIBRARY_ENV} to a "
                "writable folder."
            ) from None
        self.db_path = db_folder / DB_NAME
        # A database apart from the audio is copied back to the audio's side after every change, so
        # losing the local disk (a Space restart) loses nothing.
        self.snapshot_path = self.root / SNAPSHOT_NAME if db_folder.resolve() != self.root.resolve() else None
        self._local = threading.local()
        self._snapshot_lock = threading.Lock()
        self._seen: dict[str, float] = {}  # owner -> when this process last wrote their visit
        # Called with a song's files just before they are removed (studio.ui.cache_purge registers
        # gradio's cached copies here); the library itself knows nothing of gradio.
        self.on_delete: list[Callable[[list[Path]], None]] = []
        restored = self._restore_snapshot()
        damaged = False
        try:
            self._open_schema()
        except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
            self._move_aside(exc)
            self._open_schema()
            damaged = True
        # Songs kept after the last snapshot (a database apart from the audio), or every song when the
        # database was damaged, come back from the card each library file carries in its tags.
        rebuilt = self.rebuild_from_cards() if damaged or self.snapshot_path is not None else 0
        if damaged:
            log.error("the library was rebuilt: %d songs from their cards", rebuilt)
            # The visits were in the damaged file: every owner starts a fresh retention period rather
            # than being judged by their newest song's date.
            self._seen_all_now()
        self.clean()
        if self.snapshot_path is not None and (rebuilt or not restored):
            self.snapshot()

    def _open_schema(self) -> None:
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute("SELECT COUNT(*) FROM songs").fetchone()

    def _move_aside(self, error: sqlite3.DatabaseError) -> None:
        """A damaged database must not stop the studio or lose its songs: it is moved aside for a
        human, and a new one is filled from the song cards (:meth:`rebuild_from_cards`)."""
        self.close()
        aside = self.db_path.with_name(f"{DB_NAME}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            part = self.db_path.with_name(DB_NAME + suffix)
            if part.exists():
                os.replace(part, aside.with_name(aside.name + suffix))
        log.error("the library database %s is damaged (%s); moved to %s, rebuilding from the song cards",
                  self.db_path, error, aside.name)

    # -- plumbing ---------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=10.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        with conn:  # commits on success, rolls back on error
            yield conn

    # -- the database apart from the audio (a Space's storage mount) -------------------------
    def _restore_snapshot(self) -> bool:
        """No local database yet but a snapshot beside the audio: start from the snapshot."""
        if self.snapshot_path is None or self.db_path.exists() or not self.snapshot_path.is_file():
            return False
        partial = self.db_path.with_name(self.db_path.name + PARTIAL_SUFFIX)
        shutil.copyfile(self.snapshot_path, partial)
        os.replace(partial, self.db_path)
        return True

    def snapshot(self) -> None:
        """Copy the database, consistent (SQLite's backup API), to ``snapshot_path``: written under a
        temporary name, then renamed, so a reader never sees half a snapshot."""
        if self.snapshot_path is None:
            return
        with self._snapshot_lock:
            local = self.db_path.with_name(f".{self.db_path.name}.snapshot")
            target = sqlite3.connect(local)
            try:
                self._conn().backup(target)
            finally:
                target.close()
            partial = self.snapshot_path.with_name(f".{self.snapshot_path.name}{PARTIAL_SUFFIX}")
            shutil.copyfile(local, partial)
            os.replace(partial, self.snapshot_path)
            local.unlink(missing_ok=True)

    def rebuild_from_cards(self) -> int:
        """Add a row for every song file beside the audio that the database does not name, from the
        song card embedded in the file (a song kept after the last snapshot, or every song after the
        database was damaged). Returns how many."""
        from studio.audio import read_card

        with self._connect() as db:
            known = {r["id"] for r in db.execute("SELECT id FROM songs")}
        # One file per song, ``<id>.<ext>``: its main audio first (the player's FLAC; the WAV and MP3 beside
        # it are download copies; a song kept before the FLAC player had its MP3 beside a WAV).
        preference = {".flac": 0, ".wav": 1, ".mp3": 2, ".ogg": 3}
        songs: dict[Path, Path] = {}
        for path in self.audio_dir.glob("*/*"):
            if path.is_file() and path.name.count(".") == 1 and path.suffix in preference and path.stem not in known:
                key = path.with_suffix("")
                if key not in songs or preference[path.suffix] < preference[songs[key].suffix]:
                    songs[key] = path
        added = 0
        for path in sorted(songs.values()):
            try:
                self._owner_dir(path.parent.name)  # a folder we did not make is not an owner
                card = read_card(path)
            except StudioError as exc:
                log.warning("library file %s has no usable song card (%s); it is left as it is", path, exc)
                continue  # not a song of ours: clean() decides what happens to it
            request = {k: v for k, v in card.params.items() if k not in ("seed", "takes")}
            row = (
                path.stem, path.parent.name, card.created_at.timestamp(), card.title, card.style, card.lyrics,
                card.backend, card.model_id, "unknown", "unknown", card.seed, card.duration_s, card.sample_rate,
                0.0, card.style, card.lyrics, json.dumps(request), str(path.relative_to(self.audio_dir)),
            )
            with self._connect() as db:
                db.execute(
                    "INSERT OR IGNORE INTO songs (id, owner, created_at, title, style, lyrics, backend, weights, "
                    "device, dtype, seed, duration, sample_rate, elapsed_s, style_sent, lyrics_sent, request, audio) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            added += 1
        return added

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _row(self, row: sqlite3.Row) -> Song:
        return Song(
            id=row["id"], owner=row["owner"], created_at=row["created_at"], title=row["title"],
            style=row["style"], lyrics=row["lyrics"], backend=row["backend"], weights=row["weights"],
            device=row["device"], dtype=row["dtype"], seed=row["seed"], duration=row["duration"],
            sample_rate=row["sample_rate"], elapsed_s=row["elapsed_s"], style_sent=row["style_sent"],
            lyrics_sent=row["lyrics_sent"], request=json.loads(row["request"]),
            audio_path=self.audio_dir / row["audio"], liked=bool(row["liked"]),
        )

    def _owner_dir(self, owner: str) -> Path:
        # Owners are opaque ids we made; still, never let one name a path outside the library.
        if not owner or not all(c.isalnum() or c in "-_" for c in owner):
            raise StudioError("invalid library owner id.")
        return self.audio_dir / owner

    # -- visits (what retention reads) -----------------------------------------------------------
    def seen(self, owner: str, now: float | None = None) -> None:
        """Note that ``owner`` came by (opened their library, kept a song): their songs are reachable."""
        now = time.time() if now is None else now
        if now - self._seen.get(owner, float("-inf")) < SEEN_EVERY_S:
            return
        self._seen[owner] = now
        with self._connect() as db:
            db.execute(
                "INSERT INTO visitors (owner, last_seen) VALUES (?, ?) "
                "ON CONFLICT(owner) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)",
                (owner, now),
            )

    def _seen_all_now(self) -> None:
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO visitors (owner, last_seen) SELECT DISTINCT owner, ? FROM songs", (now,)
            )

    def last_visits(self) -> dict[str, float]:
        """Every owner with songs -> when they were last seen: their last recorded visit or their newest
        song, whichever is later (a library from before visits were recorded has only the songs)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.owner AS owner, MAX(MAX(s.created_at), COALESCE(v.last_seen, 0)) AS seen "
                "FROM songs s LEFT JOIN visitors v ON v.owner = s.owner GROUP BY s.owner"
            ).fetchall()
        return {r["owner"]: float(r["seen"]) for r in rows}

    def forget_owner(self, owner: str) -> None:
        """Remove what is left of an owner once their songs are deleted: their visit and their folder."""
        with self._connect() as db:
            db.execute("DELETE FROM visitors WHERE owner = ?", (owner,))
        self._seen.pop(owner, None)
        folder = self._owner_dir(owner)
        leftovers = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
        self._fire_on_delete(leftovers)
        shutil.rmtree(folder, ignore_errors=True)
        self.snapshot()

    def _fire_on_delete(self, files: list[Path]) -> None:
        for listener in self.on_delete:
            try:
                listener(files)
            except Exception:  # a cache that could not be cleaned must not keep the song from going
                log.exception("cleaning up after deleting %d files failed", len(files))

    def files_of(self, song: Song) -> list[Path]:
        """Every file that holds ``song``'s audio: its main file, the downloads beside it (<id>.*) and its stems."""
        files = [song.audio_path, *song.audio_path.parent.glob(f"{song.id}.*")]
        stems = song.audio_path.parent / "stems" / song.id
        files += [p for p in stems.rglob("*")] if stems.is_dir() else []
        return sorted({p for p in files if p.is_file()})

    # -- writes -----------------------------------------------------------------------------
    def add_take(
        self, owner: str, request: SongRequest, result: SongResult, take: TakeResult, *, title: str = ""
    ) -> Song:
        """Move the take's file into the library and record it.

        The file lands under a temporary name first and takes its final name inside the row's
        transaction, so a failure at any point (a full disk, a crash) leaves either a whole song
        (row and file) or no row at all; files without a row are swept by :meth:`clean`.
        """
        if take.path is None or not Path(take.path).is_file():
            raise StudioError(f"the take with seed {take.seed} has no audio file to keep.")
        song_id = new_id()
        folder = self._owner_dir(owner)
        target = folder / f"{song_id}{Path(take.path).suffix or '.wav'}"
        partial = folder / f"{song_id}{PARTIAL_SUFFIX}"
        stored = request.model_dump(mode="json", exclude={"seed", "takes", "keep_best"})
        row = (
            song_id, owner, time.time(), title or request.title or "Untitled", request.style, request.lyrics,
            result.backend, result.weights, result.device, result.dtype, take.seed, take.duration,
            take.sample_rate, result.elapsed_s, result.style_sent, result.lyrics_sent, json.dumps(stored),
            str(target.relative_to(self.audio_dir)),
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(take.path, partial)
            except OSError as exc:  # another filesystem (e.g. /tmp -> /data): copy, then drop the original
                if exc.errno != errno.EXDEV:
                    raise
                shutil.copyfile(take.path, partial)
                Path(take.path).unlink(missing_ok=True)
            with self._connect() as db:
                db.execute(
                    "INSERT INTO songs (id, owner, created_at, title, style, lyrics, backend, weights, device, "
                    "dtype, seed, duration, sample_rate, elapsed_s, style_sent, lyrics_sent, request, audio) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                os.replace(partial, target)  # inside the transaction: no commit, no song
        except (OSError, sqlite3.Error) as exc:
            partial.unlink(missing_ok=True)
            target.unlink(missing_ok=True)
            raise _save_failed(exc) from exc
        self.seen(owner)
        self.snapshot()
        return self.get(owner, song_id)

    def add_result(self, owner: str, request: SongRequest, result: SongResult) -> list[Song]:
        """Keep every take, or none: a failure on a later take removes the earlier ones again."""
        count = len(result.takes)
        kept: list[Song] = []
        try:
            for i, take in enumerate(result.takes):
                kept.append(self.add_take(owner, request, result, take, title=_title_for(request, i, count)))
        except BaseException:
            for song in kept:
                self.delete(owner, song.id)
            raise
        return kept

    def like(self, owner: str, song_id: str, liked: bool = True) -> Song:
        with self._connect() as db:
            cur = db.execute(
                "UPDATE songs SET liked = ? WHERE id = ? AND owner = ?", (int(liked), song_id, owner)
            )
        if cur.rowcount == 0:
            raise self._missing(song_id)
        self.snapshot()
        return self.get(owner, song_id)

    def rename(self, owner: str, song_id: str, title: str) -> Song:
        title = title.strip()[:200] or "Untitled"
        with self._connect() as db:
            cur = db.execute("UPDATE songs SET title = ? WHERE id = ? AND owner = ?", (title, song_id, owner))
        if cur.rowcount == 0:
            raise self._missing(song_id)
        self.snapshot()
        return self.get(owner, song_id)

    def delete(self, owner: str, song_id: str) -> None:
        song = self.get(owner, song_id)
        with self._connect() as db:
            db.execute("DELETE FROM songs WHERE id = ? AND owner = ?", (song_id, owner))
        self.snapshot()
        self._fire_on_delete(self.files_of(song))
        song.audio_path.unlink(missing_ok=True)
        for beside in song.audio_path.parent.glob(f"{song.id}.*"):  # its MP3 and stems zip
            beside.unlink(missing_ok=True)
        # The stems and DAW packs split from it (studio.separation.keep).
        shutil.rmtree(song.audio_path.parent / "stems" / song.id, ignore_errors=True)

    def clean(self, stale_after_s: float = STALE_AFTER_S) -> dict[str, int]:
        """Undo what an interrupted save (a crash, a restart, a full disk) left behind:
        once older than ``stale_after_s``, audio files no row names, half-copied files and abandoned
        staging folders. Rows whose audio file is gone are kept (and logged): see below. Runs when
        the library opens."""
        now = time.time()

        def stale(path: Path) -> bool:
            try:
                return now - path.stat().st_mtime >= stale_after_s
            except OSError:
                return False

        with self._connect() as db:
            rows = db.execute("SELECT id, audio FROM songs").fetchall()
        # A row whose file is missing is kept: the audio may be on a mount that is late or a restore
        # still copying. list() hides it until the file is back; deleting it would lose the song.
        missing = [r["id"] for r in rows if not (self.audio_dir / r["audio"]).is_file()]
        if missing:
            log.warning(
                "%d songs in %s have no audio file (a late mount or a restore in progress?); they are kept, "
                "hidden until their files return", len(missing), self.db_path,
            )
        named = {r["audio"] for r in rows}
        # A song's other downloads sit beside its audio as <id>.<suffix> (MP3, WAV, stems zip); they stay
        # while the row does, even when its main file is late, like the row itself.
        kept_ids = {r["id"] for r in rows}
        files = 0
        for path in self.audio_dir.glob("*/*"):
            relative = str(path.relative_to(self.audio_dir))
            beside_a_song = path.name.partition(".")[0] in kept_ids and not path.name.endswith(PARTIAL_SUFFIX)
            if path.is_file() and relative not in named and not beside_a_song and stale(path):
                path.unlink(missing_ok=True)
                files += 1
        staged = 0
        staging = self.root / STAGING_DIR
        if staging.is_dir():
            for entry in staging.iterdir():
                if stale(entry) or _orphaned(entry):
                    shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                    staged += 1
        return {"quarantined": len(missing), "files": files, "staging": staged}

    # -- reads ------------------------------------------------------------------------------
    def get(self, owner: str, song_id: str) -> Song:
        with self._connect() as db:
            row = db.execute("SELECT * FROM songs WHERE id = ? AND owner = ?", (song_id, owner)).fetchone()
        if row is None:
            raise self._missing(song_id)
        return self._row(row)

    def list(self, owner: str, query: str = "", *, liked_only: bool = False, limit: int = 200) -> list[Song]:
        """Newest first; ``query`` matches title, style, lyrics or model, case-insensitively. Listing is
        how a visitor's page and the /library endpoint find their songs, so it counts as a visit."""
        self.seen(owner)
        sql = "SELECT * FROM songs WHERE owner = ?"
        args: list[Any] = [owner]
        for word in query.split()[:8]:
            like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += (
                " AND (title LIKE ? ESCAPE '\\' OR style LIKE ? ESCAPE '\\' OR lyrics LIKE ? ESCAPE '\\'"
                " OR backend LIKE ? ESCAPE '\\')"
            )
            args += [like] * 4
        if liked_only:
            sql += " AND liked = 1"
        sql += " ORDER BY created_at DESC LIMIT ?"
        args.append(max(1, min(int(limit), 1000)))
        with self._connect() as db:
            rows = db.execute(sql, args).fetchall()
        # A file removed behind the library's back must not show as a song that cannot play.
        return [song for song in map(self._row, rows) if song.audio_path.is_file()]

    def bytes_used(self, owner: str | None = None) -> int:
        """Bytes of audio (with downloads and stems) one owner's songs, or the whole library, take."""
        folder = self._owner_dir(owner) if owner is not None else self.audio_dir
        pattern = "*" if owner is not None else "*/*"
        total = 0
        for path in folder.glob(pattern):
            try:
                total += path.stat().st_size if path.is_file() else 0
            except OSError:
                continue  # removed while we looked
        return total

    def song_ids(self, owner: str) -> list[str]:
        """Every song id of ``owner``, its audio file present or not (retention removes them all)."""
        with self._connect() as db:
            return [r["id"] for r in db.execute("SELECT id FROM songs WHERE owner = ?", (owner,))]

    def count(self, owner: str) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM songs WHERE owner = ?", (owner,)).fetchone()[0]

    @staticmethod
    def _missing(song_id: str) -> SongNotFound:
        return SongNotFound(
            f"no song {song_id!r} in your library; it may have been deleted. Refresh the library."
        )


def _save_failed(exc: BaseException) -> StudioError:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return StudioError(
            "the disk is full, so the song could not be kept (nothing was saved); free some space or delete "
            "songs from your library, then generate again."
        )
    reason = getattr(exc, "strerror", None) or str(exc)
    return StudioError(f"the song could not be saved to the library ({reason}); nothing was kept, try again.")
