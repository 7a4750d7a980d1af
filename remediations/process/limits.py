"""Resource limits for a script: the RLIMIT_* values, and the util-linux prlimit wrapper.

Limits are applied without preexec_fn, in one of two ways:
    * remediations.process.spawner (the default): a single-threaded spawn server applies them to
      itself and posix_spawns the script, which inherits them. No extra exec.
    * prlimit (the fallback, used when no spawn server can run): argv is prefixed with
      `prlimit --cpu=.. --as=.. --nofile=.. --fsize=.. --`; prlimit sets the limits on
      itself and execs the script in the same pid, so they hold from the script's first
      instruction. It costs one more exec (~0.85 ms on the reference VM: /bin/true goes
      from 0.6 to 1.45 ms).

Alternatives we measured or ruled out:
    * setrlimit in a preexec_fn: in a threaded process the forked child may deadlock on a
      lock another thread held, and preexec_fn disables subprocess's vfork fast path.
    * os.posix_spawn in the scheduler: has no rlimit attribute.
    * prlimit(2) on the child's pid right after Popen returns: nearly free, but not safe.
      The script already runs by then, and under load the window lasts milliseconds; in
      tests `sh -c 'ulimit -n'` printed the unlimited value and `head -c 5M > f` wrote
      past the file-size limit about one run in three.
    * a spawn server that forks and calls setrlimit in the child: safe, but forking a
      Python process costs ~1 ms of copy-on-write faults, as much as prlimit's exec.
"""

from __future__ import annotations

import functools
import resource
import shutil

from remediations.errors import RunnerError

_PRLIMIT_OPTION = {
    resource.RLIMIT_CPU: "--cpu",
    resource.RLIMIT_AS: "--as",
    resource.RLIMIT_NOFILE: "--nofile",
    resource.RLIMIT_FSIZE: "--fsize",
}


def rlimits(
    *, cpu_s: int | None, memory_bytes: int | None, max_open_files: int | None, max_file_bytes: int | None
) -> dict[int, tuple[int, int]]:
    """The (soft, hard) pair per RLIMIT_* resource; None leaves a resource as inherited."""
    limits: dict[int, tuple[int, int]] = {}
    if cpu_s is not None:
        # soft < hard: the script gets SIGXCPU first and a second to react before SIGKILL.
        limits[resource.RLIMIT_CPU] = (cpu_s, cpu_s + 1)
    for res, value in (
        (resource.RLIMIT_AS, memory_bytes),
        (resource.RLIMIT_NOFILE, max_open_files),
        (resource.RLIMIT_FSIZE, max_file_bytes),
    ):
        if value is not None:
            limits[res] = (value, value)
    return limits


def prlimit_argv(limits: dict[int, tuple[int, int]]) -> list[str]:
    """The `prlimit ... --` prefix setting `limits` ([] when there are none).

    Raises:
        RunnerError: limits are requested but prlimit is not installed; running without
            the limits the operator asked for would be unsafe.
    """
    if not limits:
        return []
    prlimit = _prlimit_path()
    if prlimit is None:
        raise RunnerError("resource limits requested but prlimit (util-linux) is not installed")
    options = [f"{_PRLIMIT_OPTION[res]}={soft}:{hard}" for res, (soft, hard) in limits.items()]
    return [prlimit, *options, "--"]


@functools.cache
def _prlimit_path() -> str | None:
    return shutil.which("prlimit", path="/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin")
