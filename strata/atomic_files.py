"""Small file operations that a reader or a crash can never catch half done (POSIX).

Each write goes to a temporary name beside its target, is flushed to disk, and is renamed over
the target; the folder is then synced, so the rename itself survives a power cut.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
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
    """Write `text` to a temp file beside `path`, flush it to disk, then replace `path`.

    Only a regular file is ever replaced. A symbolic link is followed: the file it points to is
    replaced and the link stays. A target that is not a regular file (a device such as /dev/null
    or /dev/full, a FIFO) is written through, never renamed over: renaming a file over
    /dev/null as root would break it for every process on the host; writing to /dev/full then
    fails with its own error (no space left on device). An existing file keeps its permission
    bits, and one with no write bit at all is refused (PermissionError) rather than replaced:
    root may write anywhere, but a file made read-only was made so on purpose.
    """
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
        return
    mode = None
    if target.exists():
        mode = stat.S_IMODE(target.stat().st_mode)
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise PermissionError(
                errno.EACCES, "the file is read-only (no write permission); not replaced", str(path)
            )
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        replace_file(temp, target)
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
