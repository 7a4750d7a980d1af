"""The audit chain's head, copied to a file outside the database (<data_dir>/audit-anchor.json).

Whoever can write the database could delete the newest records and put back an older head
row they kept. The file, which they cannot reach, remembers how far the chain had got.
Every process writes it after its audit transaction commits: atomically (a renamed temp
file), under an advisory lock, and only forward (a process that commits last may write
first). A crash between commit and write leaves the file a little behind, never ahead.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger("vigil.audit")


@dataclass(frozen=True)
class Anchor:
    """How far the chain had got (record count, last id and hash) and the HMAC over it, as stored in the file."""

    chain_id: str
    count: int
    last_id: int
    last_hash: str
    keyed_from: int
    mac: str


def read(path: Path) -> Anchor | None:
    """The anchor in `path`; None when there is none yet.

    Raises:
        ValueError: the file exists but does not hold an anchor.
    """
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable: {exc}") from None
    try:
        return Anchor(**{k: raw[k] for k in Anchor.__dataclass_fields__})
    except (TypeError, KeyError) as exc:
        raise ValueError(f"{path}: not an audit anchor ({exc})") from None


def advance(path: Path, anchor: Anchor) -> bool:
    """Write `anchor` unless the file already holds this chain at the same count or further;
    False (nothing written) when it holds another chain: that evidence is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = read(path)
        except ValueError:
            current = None  # torn (a crash mid-write on a filesystem without rename ordering): repair it
        if current is not None and current.chain_id != anchor.chain_id:
            return False
        if current is not None and current.count >= anchor.count:
            return True
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with open(tmp, "w") as out:
            json.dump(asdict(anchor), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    return True
