"""The `jaxann` command line (also `python -m jaxann`): it parses and prints; the work is
the library's. One module per command: train, sweep, plot, gradcheck, bench.

Every rejection of bad input is one line on stderr, `jaxann: error: ...`, and exit
status 2; never a traceback. Diverged training exits 1, an interrupt 130, SIGTERM 143.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from jaxann.cli import bench, gradcheck, plot, sweep, train
from jaxann.cli.args import batch_size, float_list, int_list, positive_int
from jaxann.cli.train import TrainingDiverged
from jaxann.errors import JaxannError

__all__ = ["batch_size", "build_parser", "float_list", "int_list", "main", "positive_int"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (what was wrong) and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxann", description="Feedforward neural networks in JAX.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (train, sweep, plot, gradcheck, bench):
        command.add_parser(sub)
    return parser


class Terminated(Exception):
    """SIGTERM arrived (raised by the handler `main` installs)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _resume_hint(args) -> str:
    return f"; continue with --out {args.out} --resume" if getattr(args, "out", None) else ""


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.run(args)
    except JaxannError as e:
        print(f"jaxann: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"jaxann: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jaxann: interrupted" + _resume_hint(args), file=sys.stderr)
        return 130
    except Terminated:
        print("jaxann: terminated" + _resume_hint(args), file=sys.stderr)
        return 143
