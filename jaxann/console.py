"""What the command line writes besides its results: a progress bar on stderr, redrawn in
place and drawn only on a terminal; counted nouns."""

from __future__ import annotations

import sys


def count(n: int, noun: str) -> str:
    """'1 model', '3 models': a number and its noun, agreeing."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class ProgressBar:
    """[#########.....................] text, for `done` of `total` units of work."""

    WIDTH = 30

    def __init__(self, total: float, enabled: bool = True, label: str = ""):
        self.total, self.label = total, label
        self.enabled = enabled and sys.stderr.isatty()
        self.drawn = 0  # the width of the line on the screen, erased by close()

    def update(self, done: float, text: str = "") -> None:
        if not self.enabled:
            return
        filled = int(self.WIDTH * done / self.total) if self.total else 0
        prefix = f"{self.label} " if self.label else ""
        line = f"{prefix}[{'#' * filled}{'.' * (self.WIDTH - filled)}] {text}"
        # pad over the longer line drawn before, if any
        sys.stderr.write("\r" + line.ljust(self.drawn))
        sys.stderr.flush()
        self.drawn = max(self.drawn, len(line))

    def __call__(self, done: float, total: float, text: str = "") -> None:
        """The progress-callback form the experiments, sweeps and benchmarks take:
        `done` of `total` units, the total given with each call; the line is erased once
        done reaches total."""
        self.total = total
        if done >= total:
            self.close()
        else:
            self.update(done, text)

    def close(self) -> None:
        """Erase the line (the next output starts at its beginning)."""
        if self.drawn:
            sys.stderr.write("\r" + " " * self.drawn + "\r")
            sys.stderr.flush()
            self.drawn = 0
