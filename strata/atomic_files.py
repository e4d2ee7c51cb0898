"""Small file operations that a reader or a crash can never catch half done (POSIX).

Each write goes to a temporary name beside its target, is flushed to disk, and is renamed over
the target; the folder is then synced, so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def remove_path(path: Path) -> None:
    """Remove a file, symlink or folder if it exists."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)


def replace_file(source: Path, target: Path) -> None:
    """Rename `source` over `target` atomically, and make the rename durable."""
    os.replace(source, target)
    fsync_dir(target.parent)


def replace_symlink(link: Path, target: str) -> None:
    """Point `link` at `target` atomically: a temp symlink replaced onto it."""
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink; remove it")
    temp = link.with_name(f".{link.name}.{secrets.token_hex(4)}.tmp")
    os.symlink(target, temp)
    try:
        replace_file(temp, link)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to a temp file beside `path`, flush it to disk, then replace `path`."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        replace_file(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort; not every platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
