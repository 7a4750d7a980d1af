"""Each run's fresh working directory (also its HOME and TMPDIR), and where to put it.

mkdir+rmdir costs ~0.4 ms on the reference VM's ext4 and ~0.05 ms on tmpfs, a large part
of a trivial run, so backends put work dirs on /dev/shm when it is a roomy tmpfs. The cost
of tmpfs is memory: what a script writes there is RAM until the run ends (each file is
still capped by max_file_bytes), hence the free-space floor.
"""

from __future__ import annotations

import os
import shutil
import tempfile

# A small /dev/shm (Docker's default is 64 MiB) would make scripts fail with ENOSPC where
# the disk has room: use the system temp dir then.
MIN_TMPFS_FREE_BYTES = 256 * 1024 * 1024
_CANDIDATES = ("/dev/shm",)


def create(root: str | None) -> str:
    """Make a new private (0700) directory under `root` (None: the system temp dir).

    What tempfile.mkdtemp does, for a third of its CPU time (its name generator is the
    cost): an unguessable name from os.urandom, created with mkdir, which never follows
    a planted symlink and fails if the name exists.
    """
    parent = os.path.abspath(root) if root is not None else tempfile.gettempdir()
    for _ in range(100):
        path = f"{parent}/vigil-run-{os.urandom(8).hex()}"
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused work dir name under {parent}")


def remove(workdir: str) -> None:
    """Remove the directory and whatever the script left in it; errors are ignored."""
    try:
        os.rmdir(workdir)  # the common case, empty: one syscall instead of rmtree's walk
    except OSError:
        shutil.rmtree(workdir, ignore_errors=True)


def fast_root() -> str | None:
    """/dev/shm if it is a writable tmpfs with room to spare, else None (system temp dir)."""
    for path in _CANDIDATES:
        try:
            if not _is_tmpfs(path) or not os.access(path, os.W_OK | os.X_OK):
                continue
            info = os.statvfs(path)
        except OSError:
            continue
        if info.f_bavail * info.f_frsize >= MIN_TMPFS_FREE_BYTES:
            return path
    return None


def _is_tmpfs(path: str) -> bool:
    with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
        return any(
            fields[1] == path and fields[2] == "tmpfs"
            for fields in (line.split() for line in mounts)
            if len(fields) > 2
        )
