"""A one-line progress bar on stderr, redrawn in place; drawn only on a terminal."""

from __future__ import annotations

import sys


class ProgressBar:
    """[#########.....................] text, for `done` of `total` units of work."""

    WIDTH = 30

    def __init__(self, total: float, enabled: bool = True, label: str = ""):
        self.total, self.label = total, label
        self.enabled = enabled and sys.stderr.isatty()

    def update(self, done: float, text: str = "") -> None:
        if not self.enabled:
            return
        filled = int(self.WIDTH * done / self.total) if self.total else 0
        prefix = f"{self.label} " if self.label else ""
        sys.stderr.write(f"\r{prefix}[{'#' * filled}{'.' * (self.WIDTH - filled)}] {text} ")
        sys.stderr.flush()

    def close(self) -> None:
        """Erase the line (the next output starts at its beginning)."""
        if self.enabled:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
