"""Real refused writes for tests: a size-limited tmpfs of a test's own, and filling it up."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

FS_BYTES = 8 * 1024 * 1024


@contextmanager
def tmpfs(mount_point: Path, size: int = FS_BYTES) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` bytes at ``mount_point`` until the block ends; skip, saying why, where
    mounting is not allowed (it needs root and CAP_SYS_ADMIN)."""
    mount_point.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(fs: Path, leave: int) -> Path:
    """Fill ``fs`` until only about ``leave`` bytes are free, and return the filler file."""
    filler = fs / "filler"
    # Unbuffered: a buffered file keeps the bytes the full disk refused and fails again on close, or
    # not, depending on how the last write lined up with what was free.
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 16384)
        except OSError:
            pass
    with filler.open("r+b") as out:
        out.truncate(max(filler.stat().st_size - leave, 0))
    return filler
