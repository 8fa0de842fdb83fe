"""The README and the pages under docs/ run as written: each page's Python blocks, pasted
in order into one fresh interpreter (one per page), run without error, and every block
followed by a ```text block prints those lines (in order; `...` stands for lines left
out). Shell blocks followed by a ```text block are run too and checked the same way.
Blocks that use MNIST run only where its files are found (JAXANN_DATA_DIR), so the
lecture's quoted figures are checked against a real run wherever the data are. Every
relative link and image of those pages points at a file (and heading) that exists.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def blocks(page: Path = README):
    """[(language, code, expected output lines or None)] in the page's order."""
    text = page.read_text()
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


NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")
# float32 training rounds differently on different CPUs (XLA picks its kernels by the
# instruction set), and ten epochs of SGD carry that into the third decimal: a number with
# four or more decimals matches within 2e-3 relative or absolute (measured between two x86
# machines: at most 7e-4 in MNIST's scores and losses); every other character exactly
TOLERANCE = 2e-3


def same_line(got: str, want: str) -> bool:
    if NUMBER.sub("#", got) != NUMBER.sub("#", want):
        return False
    for a, b in zip(NUMBER.findall(got), NUMBER.findall(want)):
        if a != b and (len(b.split(".")[1].split("e")[0]) < 4
                       or abs(float(a) - float(b)) > TOLERANCE * max(1.0, abs(float(b)))):
            return False
    return True


def assert_prints(output: str, expected: list, where: str):
    """Each expected line (but `...`) is an output line, in order (numbers as `same_line` says)."""
    lines = [line.rstrip() for line in output.splitlines()]
    at = 0
    for want in expected:
        if want.strip() == "...":
            continue
        found = next((i for i in range(at, len(lines)) if same_line(lines[i], want.rstrip())), None)
        if found is None:
            raise AssertionError(f"{where}: the page says it prints {want!r}; it printed:\n{output}")
        at = found + 1


def test_numbers_match_to_the_stated_tolerance_only():
    assert same_line("Test set score: 0.972300", "Test set score: 0.972600")
    assert same_line("Iteration 10, loss = 0.04380767", "Iteration 10, loss = 0.04383291")
    assert not same_line("Test set score: 0.962600", "Test set score: 0.972600")
    assert not same_line("Test set score: 0.97", "Test set score: 0.98")  # two decimals: exact
    assert not same_line("Training set score: 0.972600", "Test set score: 0.972600")


def test_readme_has_the_blocks_it_promises():
    found = blocks(README)
    python = [expected for lang, _, expected in found if lang == "python"]
    shown = [code for lang, code, expected in found if lang == "sh" and expected]
    assert len(python) >= 6  # lecture, library, estimators, sweep, search, learning rules
    assert all(python)
    assert len(shown) >= 2  # jaxann train --dataset mnist; the tour's command line
    assert any("jaxann train --dataset mnist" in code for code in shown)
    assert {"data.md", "estimators.md", "command-line.md", "benchmarks.md", "figures.md", "research.md",
            "learning-rules.md", "design.md"} <= {page.name for page in DOCS}
    for page in DOCS:
        assert page.read_text().startswith("# "), f"{name(page)} starts with its title"


def pages_with(lang: str, shown_only: bool = False):
    return [pytest.param(page, id=name(page)) for page in PAGES
            if any(l == lang and (expected or not shown_only) for l, _, expected in blocks(page))]


@pytest.mark.slow
@pytest.mark.parametrize("page", pages_with("python"))
def test_python_blocks_run_in_order_in_a_fresh_interpreter(page):
    have_mnist = mnist_found()
    every = [(code, expected) for lang, code, expected in blocks(page) if lang == "python"]
    chosen = [(code, expected) for code, expected in every if have_mnist or not needs_mnist(code)]
    if not chosen:
        pytest.skip(f"{name(page)}'s Python blocks all use MNIST: not found (set JAXANN_DATA_DIR)")
    driver = (
        "import json, sys\n"
        "namespace = {'__name__': '__main__'}\n"
        "for i, code in enumerate(json.loads(sys.argv[1])):\n"
        "    print(f'<<<block {i}>>>', flush=True)\n"
        "    exec(compile(code, f'%s block {i}', 'exec'), namespace)\n" % name(page)
    )
    run = subprocess.run([sys.executable, "-c", driver, json.dumps([c for c, _ in chosen])],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = re.split(r"^<<<block \d+>>>\n", run.stdout, flags=re.M)[1:]
    assert len(outputs) == len(chosen)
    for i, ((code, expected), output) in enumerate(zip(chosen, outputs)):
        if expected:
            assert_prints(output, expected, f"{name(page)} Python block {i} ({code.splitlines()[0]!r})")
    if len(chosen) < len(every):
        pytest.skip(f"{name(page)}'s MNIST blocks were left out: MNIST not found (set JAXANN_DATA_DIR)")


@pytest.mark.slow
@pytest.mark.parametrize("page", pages_with("sh", shown_only=True))
def test_shell_blocks_print_what_the_page_shows(page):
    shown = [(code, expected) for lang, code, expected in blocks(page) if lang == "sh" and expected]
    if not mnist_found() and all(needs_mnist(code) for code, _ in shown):
        pytest.skip("MNIST not found (set JAXANN_DATA_DIR)")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for code, expected in shown:
        if needs_mnist(code) and not mnist_found():
            continue
        run = subprocess.run(["bash", "-c", code], capture_output=True, text=True, env=env, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        assert_prints(run.stdout, expected, f"{name(page)} command {code.strip()!r}")


def anchors(page: Path) -> set:
    """The #fragments a page's headings answer to, as GitHub spells them."""
    text = FENCE.sub("", page.read_text())
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.*)$", text, flags=re.M)}


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def broken_links(page: Path) -> list:
    """The page's relative links and images whose file, or heading, does not exist."""
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, fragment = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists() or (fragment and where.suffix == ".md" and fragment not in anchors(where)):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", [pytest.param(page, id=name(page)) for page in PAGES])
def test_links_point_at_what_exists(page):
    assert not broken_links(page), f"{name(page)} links to what does not exist: {broken_links(page)}"


def test_link_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n[ok](page.md#a-page) [gone](missing.md) ![bad](#nowhere)\n\n"
                    "```python\nx = [not](a-link.md)\n```\n")
    assert anchors(page) == {"a-page"}
    assert broken_links(page) == ["missing.md", "#nowhere"]


def test_output_matching_can_fail():
    assert_prints("a\nb\nc\n", ["a", "...", "c"], "here")
    with pytest.raises(AssertionError, match="prints 'b'"):
        assert_prints("a\nc\n", ["a", "b"], "here")
    with pytest.raises(AssertionError):
        assert_prints("b\na\n", ["a", "b"], "here")  # out of order
