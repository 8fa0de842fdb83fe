"""The README runs as written: its Python blocks, pasted in order into one fresh
interpreter, run without error, and every block followed by a ```text block prints those
lines (in order; `...` stands for lines left out). Shell blocks followed by a ```text
block are run too and checked the same way. Blocks that use MNIST run only where its
files are found (JAXANN_DATA_DIR), so the lecture's quoted figures are checked against a
real run wherever the data are.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def blocks():
    """[(language, code, expected output lines or None)] in the README's order."""
    text = README.read_text()
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    out = []
    for i, (lang, code, _, end) in enumerate(found):
        if lang not in ("python", "sh"):
            continue
        expected = None
        if i + 1 < len(found):
            next_lang, next_code, next_start, _ = found[i + 1]
            if next_lang == "text" and not text[end:next_start].strip():
                expected = next_code.splitlines()
        out.append((lang, code, expected))
    return out


def needs_mnist(code: str) -> bool:
    return "mnist" in code


def mnist_found() -> bool:
    from jaxann.data import DataError, find_files

    try:
        return find_files("mnist") is not None
    except DataError:
        return False


def assert_prints(output: str, expected: list, where: str):
    """Each expected line (but `...`) is an output line, in order."""
    lines = [line.rstrip() for line in output.splitlines()]
    at = 0
    for want in expected:
        if want.strip() == "...":
            continue
        try:
            at = lines.index(want.rstrip(), at) + 1
        except ValueError:
            raise AssertionError(f"{where}: the README says it prints {want!r}; it printed:\n{output}") from None


def test_readme_has_the_blocks_it_promises():
    langs = [lang for lang, _, _ in blocks()]
    assert langs.count("python") >= 6  # data (2), lecture, library, sweep, per-example
    assert all(expected for lang, code, expected in blocks() if lang == "python")


@pytest.mark.slow
def test_python_blocks_run_in_order_in_a_fresh_interpreter():
    have_mnist = mnist_found()
    chosen = [(code, expected) for lang, code, expected in blocks()
              if lang == "python" and (have_mnist or not needs_mnist(code))]
    driver = (
        "import json, sys\n"
        "namespace = {'__name__': '__main__'}\n"
        "for i, code in enumerate(json.loads(sys.argv[1])):\n"
        "    print(f'<<<block {i}>>>', flush=True)\n"
        "    exec(compile(code, f'README block {i}', 'exec'), namespace)\n"
    )
    run = subprocess.run([sys.executable, "-c", driver, json.dumps([c for c, _ in chosen])],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = re.split(r"^<<<block \d+>>>\n", run.stdout, flags=re.M)[1:]
    assert len(outputs) == len(chosen)
    for i, ((code, expected), output) in enumerate(zip(chosen, outputs)):
        assert_prints(output, expected, f"README Python block {i} ({code.splitlines()[0]!r})")
    if not have_mnist:
        pytest.skip("the README's MNIST blocks were left out: MNIST not found (set JAXANN_DATA_DIR)")


@pytest.mark.slow
def test_shell_blocks_print_what_the_readme_shows():
    shown = [(code, expected) for lang, code, expected in blocks() if lang == "sh" and expected]
    assert shown, "the README shows no command's output"
    if not mnist_found() and all(needs_mnist(code) for code, _ in shown):
        pytest.skip("MNIST not found (set JAXANN_DATA_DIR)")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for code, expected in shown:
        if needs_mnist(code) and not mnist_found():
            continue
        run = subprocess.run(["bash", "-c", code], capture_output=True, text=True, env=env, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        assert_prints(run.stdout, expected, f"README command {code.strip()!r}")


def test_output_matching_can_fail():
    assert_prints("a\nb\nc\n", ["a", "...", "c"], "here")
    with pytest.raises(AssertionError, match="prints 'b'"):
        assert_prints("a\nc\n", ["a", "b"], "here")
    with pytest.raises(AssertionError):
        assert_prints("b\na\n", ["a", "b"], "here")  # out of order
