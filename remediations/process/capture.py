"""Bounded capture of a script's output: keep the head and the tail, count what is dropped.

The head shows how a run started and the tail how it ended (the error is usually last);
the middle of a flood is what we can afford to lose.
"""

from __future__ import annotations

import codecs

TRUNCATION_MARKER = "[... output truncated by vigil: {dropped} bytes dropped ...]"


class BoundedOutput:
    """Accumulate bytes, keeping at most `max_bytes`: the first half and the last half."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.head_cap = max_bytes // 2
        self.tail_cap = max_bytes - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        """Add a chunk read from the pipe."""
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            # Deleting from the front of a bytearray is cheap (it moves a start offset).
            excess = len(self.tail) - self.tail_cap
            if excess > 0:
                del self.tail[:excess]

    @property
    def dropped(self) -> int:
        """Bytes received but not kept."""
        return self.total - len(self.head) - len(self.tail)

    @property
    def truncated(self) -> bool:
        """True when some output was dropped."""
        return self.dropped > 0

    def text(self) -> str:
        """The kept output as text; a marker line stands where bytes were dropped.

        Invalid UTF-8 (or a character cut at the boundary) becomes U+FFFD, and so does NUL:
        PostgreSQL text cannot hold it, and an output with one (a script that printed
        /proc/*/environ) could never be recorded, leaving its execution "running".
        """
        if not self.truncated:
            return _text(bytes(self.head) + bytes(self.tail))
        head = _text(bytes(self.head))
        tail = _text(bytes(self.tail))
        sep = "" if not head or head.endswith("\n") else "\n"
        marker = TRUNCATION_MARKER.format(dropped=self.dropped)
        return f"{head}{sep}{marker}\n{tail}"

    def live_text(self) -> str:
        """What a watcher may see while the script runs: always a prefix of the final text().

        A character cut at the end of what has arrived waits for its other bytes; once bytes
        are dropped (the tail slides), only the head is shown until the run ends.
        """
        data = bytes(self.head) if self.truncated else bytes(self.head) + bytes(self.tail)
        return codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=False).replace("\x00", "\ufffd")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\x00", "\ufffd")
