"""The command line answers `--help` and usage errors without loading JAX or NumPy, and
its errors name the command and the closest valid flag or value."""

import subprocess
import sys

import pytest

from jaxann.cli import COMMANDS, main


def test_the_command_lines_names_are_the_librarys():
    from jaxann.activations import ACTIVATIONS
    from jaxann.bench import systems as bench_systems
    from jaxann.cli import choices
    from jaxann.cli.bench import systems
    from jaxann.data import DATASETS
    from jaxann.deltas import GRADS, RULES
    from jaxann.gradcheck import CHEAP, MODES
    from jaxann.losses import LOSSES

    assert choices.ACTIVATIONS == tuple(ACTIVATIONS) and choices.LOSSES == tuple(LOSSES)
    assert choices.GRADS == tuple(GRADS) and choices.DATASETS == tuple(DATASETS)
    assert choices.RULES == tuple(RULES) and choices.FD_MODES == MODES and choices.FD_CHEAP == CHEAP
    assert systems() == bench_systems() and systems(False) == bench_systems(False)


def test_help_and_usage_errors_load_no_jax_or_numpy():
    # every command's --help and a usage error of each, in one process: nothing heavy loads
    code = ("import sys\nfrom jaxann.cli import COMMANDS, main\n"
            "for argv in [[c, '--help'] for c in COMMANDS] + [[c, '--no-such-flag'] for c in COMMANDS]:\n"
            "    try: main(argv)\n"
            "    except SystemExit as e: assert e.code == (0 if argv[1] == '--help' else 2), argv\n"
            "print(sorted(m for m in ('jax', 'numpy', 'sklearn', 'matplotlib') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith("[]"), r.stderr[-2000:]
    assert all(f"jaxann {c}: error: " in r.stderr for c in COMMANDS)


@pytest.mark.parametrize("argv,line", [
    (["train", "--optimiser", "lbfgs"],
     "jaxann train: error: unrecognized arguments: --optimiser lbfgs; did you mean --optimizer? "
     "(see 'jaxann train --help')"),
    (["sweep", "--activation", "tanhh"], "did you mean 'tanh'?"),
    (["trian"], "jaxann: error: argument COMMAND: invalid choice: 'trian'"),
    (["trian"], "did you mean 'train'?"),
    (["plot", "histroy"], "jaxann plot: error: argument name: invalid choice: 'histroy'"),
])
def test_usage_errors_name_the_command_and_the_closest_choice(argv, line, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and line in err and len(err.strip().splitlines()) == 1


def test_errors_found_after_parsing_name_the_command(capsys):
    assert main(["train", "--resume"]) == 2
    assert capsys.readouterr().err == ("jaxann train: error: --resume needs --out DIR, the folder whose "
                                       "checkpoint.npz it continues\n")
