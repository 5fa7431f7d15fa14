"""The asset folder: transcoded creatives and slates, one folder per (profile, creative), cleaned by age and size.

Layout: `{root}/{profile key}/{creative folder}/master.m3u8` plus one sub-folder per rendition (v0, a0, …).
The creative folder is a hash of the creative key (an id or a media URL: anything), so a hostile key never
becomes a path. A folder is built under `{root}/.work/` and renamed into place when complete, so a crash or
a concurrent build never leaves a half-written asset where the proxy looks (rename is atomic on one
filesystem); `master.m3u8` present means ready. The last use of an asset is its folder's mtime, refreshed
at most once an hour, so a restart knows what is old without a database.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("proxy.media.assetstore")
MASTER = "master.m3u8"
WORK = ".work"
TOUCH_EVERY = 3600.0


@dataclass(frozen=True, slots=True)
class Cleanup:
    removed: int
    freed_bytes: int
    kept: int
    kept_bytes: int


def creative_folder(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24]


class AssetStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._touched: dict[Path, float] = {}

    def folder(self, profile_key: str, key: str) -> Path:
        return self.root / profile_key / creative_folder(key)

    def relative(self, folder: Path) -> str:
        """The folder's path under the root, with '/' separators: the tail of its public URL."""
        return folder.relative_to(self.root).as_posix()

    def is_ready(self, folder: Path) -> bool:
        return (folder / MASTER).is_file()

    def work_dir(self) -> Path:
        """A fresh empty folder on the asset filesystem, for one build."""
        (self.root / WORK).mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="build-", dir=self.root / WORK))

    def publish(self, work: Path, folder: Path) -> None:
        """Move a complete build into place; a folder already there (another process built it) wins."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            work.rename(folder)
        except OSError:
            if not self.is_ready(folder):
                raise
            shutil.rmtree(work, ignore_errors=True)
        self._touched[folder] = time.monotonic()

    def touch(self, folder: Path) -> None:
        now = time.monotonic()
        if now - self._touched.get(folder, -TOUCH_EVERY) >= TOUCH_EVERY:
            self._touched[folder] = now
            try:
                os.utime(folder)
            except OSError:
                log.warning("asset %s vanished while in use", folder)

    def cleanup(self, *, max_age: float, max_bytes: int) -> Cleanup:
        """Remove assets unused for `max_age` seconds, then the least recently used until the total is at
        most `max_bytes`; never one used in the last two hours (mtimes are refreshed hourly; a break lasts minutes)."""
        assets = sorted(self._assets(), key=lambda asset: asset[1])  # least recently used first
        total = sum(size for _, _, size in assets)
        now = time.time()
        removed = freed = 0
        for folder, used, size in assets:
            too_old = now - used > max_age
            if now - used < 2 * TOUCH_EVERY or not (too_old or total > max_bytes):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            self._touched.pop(folder, None)
            total, removed, freed = total - size, removed + 1, freed + size
            log.info("removed asset %s (%d bytes, unused for %.0f s)", self.relative(folder), size, now - used)
        self._clear_work(now)
        return Cleanup(removed, freed, len(assets) - removed, total)

    def _assets(self) -> list[tuple[Path, float, int]]:
        if not self.root.is_dir():
            return []
        found = []
        for profile in self.root.iterdir():
            if profile.name == WORK or not profile.is_dir():
                continue
            for folder in profile.iterdir():
                if folder.is_dir():
                    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                    found.append((folder, folder.stat().st_mtime, size))
        return found

    def _clear_work(self, now: float) -> None:
        """Builds left behind by a crash: anything in the work folder older than a day."""
        work = self.root / WORK
        for build in work.iterdir() if work.is_dir() else ():
            if now - build.stat().st_mtime > 86_400:
                shutil.rmtree(build, ignore_errors=True)
