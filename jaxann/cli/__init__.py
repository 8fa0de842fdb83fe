"""The `jaxann` command line (also `python -m jaxann`): it parses and prints; the work is
the library's. One module per command: train, sweep, plot, gradcheck, bench, cache.

Every rejection of bad input is one line on stderr, `jaxann: error: ...`, and exit
status 2; never a traceback. Diverged training exits 1, training that ends at chance
level 3 (with a warning line), an interrupt 130, SIGTERM 143.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from jaxann.cli.args import batch_size, float_list, int_list, positive_int
from jaxann.errors import JaxannError, TrainingDiverged

# command -> its one-line help; each command's flags live in jaxann/cli/<command>.py and are
# added only for the command being run, so `jaxann --help` imports no JAX
COMMANDS = {
    "train": "train and evaluate a network",
    "sweep": "train many models (grids of any settings) as one program per shape",
    "plot": "draw one of the lecture's figures",
    "gradcheck": "backprop vs jax.grad vs finite differences, per layer; learning rules against the gradient",
    "bench": "time jaxann's training (and other libraries', from benchmarks/bench.py) side by side",
    "cache": "show or clear the compiled-program store and the data cache",
}

__all__ = ["batch_size", "build_parser", "float_list", "int_list", "main", "positive_int"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (what was wrong) and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the flags of `command` (a name of COMMANDS) filled in."""
    parser = _Parser(prog="jaxann", description="Feedforward neural networks in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxann {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help in COMMANDS.items():
        p = sub.add_parser(name, help=help)
        if name == command:
            importlib.import_module(f"jaxann.cli.{name}").add_arguments(p)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jaxann")
    except PackageNotFoundError:
        return "unknown (not installed)"


class Terminated(Exception):
    """SIGTERM arrived (raised by the handler `main` installs)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _resume_hint(args) -> str:
    return f"; continue with --out {args.out} --resume" if getattr(args, "out", None) else ""


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
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
    except BrokenPipeError:
        # the reader went away (`jaxann train | head`): stop quietly, as Unix tools do; stdout
        # goes to /dev/null so that Python's flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
