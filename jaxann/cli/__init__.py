"""The `jaxann` command line (also `python -m jaxann`): it parses and prints; the work is
the library's. One module per command: train, sweep, tune, plot, gradcheck, bench, cache, predict,
evaluate, runs.

Every rejection of bad input is one line on stderr naming the command, `jaxann train:
error: ...` (with the closest flag or value when one was misspelt), and exit status 2;
never a traceback. Diverged training exits 1, training that ends at chance
level 3 (with a warning line), an interrupt 130, SIGTERM 143.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
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
    "tune": "search settings with an Optuna study, many trials per program",
    "plot": "draw one of the lecture's figures",
    "gradcheck": "backprop vs jax.grad vs finite differences, per layer; learning rules against the gradient",
    "bench": "time jaxann's training (and other libraries', from benchmarks/bench.py) side by side",
    "cache": "show or clear the compiled-program store and the data cache",
    "predict": "predict with a saved model from a .npy, .csv or IDX file",
    "evaluate": "score a saved model on a data set: accuracy and confusion matrix",
    "runs": "list the runs under some folders side by side",
}

__all__ = ["batch_size", "build_parser", "float_list", "int_list", "main", "positive_int"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (what was wrong) and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}{self._suggestion(message)} (see '{self.prog} --help')\n")
        sys.exit(2)

    def _suggestion(self, message: str) -> str:
        """'; did you mean --optimizer?' for an unknown flag, "; did you mean 'adam'?" for
        an invalid choice, when one is close; else ''."""
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if choice:
            close = difflib.get_close_matches(choice[1], re.findall(r"'([^']*)'", choice[2]), n=1)
            return f"; did you mean {close[0]!r}?" if close else ""
        if message.startswith("unrecognized arguments: "):
            flags = [s for a in self._actions for s in a.option_strings]
            for word in message.split()[2:]:
                close = difflib.get_close_matches(word.split("=")[0], flags, n=1) if word.startswith("-") else []
                if close:
                    return f"; did you mean {close[0]}?"
        return ""


class _Version(argparse.Action):
    """--version, the installed version looked up only when asked (importlib.metadata
    costs a --help 0.1 s)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from jaxann.version import version

        print(f"jaxann {version()}")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the flags of `command` (a name of COMMANDS) filled in."""
    parser = _Parser(prog="jaxann", description="Feedforward neural networks in JAX.")
    parser.add_argument("--version", action=_Version, nargs=0, help="show jaxann's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.commands = {}
    for name, help in COMMANDS.items():
        p = parser.commands[name] = sub.add_parser(name, help=help)
        if name == command:
            importlib.import_module(f"jaxann.cli.{name}").add_arguments(p)
    return parser


class Terminated(Exception):
    """SIGTERM arrived (raised by the handler `main` installs)."""


_STOP = []  # the stopping signals that arrived, for `stop_if_signalled`


def _on_sigterm(signum, frame):
    _STOP.append(Terminated)
    raise Terminated()


def _on_sigint(signum, frame):
    _STOP.append(KeyboardInterrupt)
    raise KeyboardInterrupt()


def stop_if_signalled() -> None:
    """Raise again a SIGINT's or SIGTERM's exception that arrived earlier: the handler's
    raise can be lost (Python drops an exception raised while it runs a finalizer), so a
    command checks between epochs as well."""
    if _STOP:
        raise _STOP[0]()


def _resume_hint(args) -> str:
    return f"; continue with --out {args.out} --resume" if getattr(args, "out", None) else ""


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the command's parser, which knows its flags
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    prog = f"jaxann {args.command}"
    if threading.current_thread() is threading.main_thread():
        _STOP.clear()
        signal.signal(signal.SIGTERM, _on_sigterm)
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        return args.run(args)
    except JaxannError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted" + _resume_hint(args), file=sys.stderr)
        return 130
    except Terminated:
        print(f"{prog}: terminated" + _resume_hint(args), file=sys.stderr)
        return 143
    except BrokenPipeError:
        # the reader went away (`jaxann train | head`): stop quietly, as Unix tools do; stdout
        # goes to /dev/null so that Python's flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
