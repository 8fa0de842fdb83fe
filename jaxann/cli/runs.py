"""`jaxann runs`: the runs under some folders side by side, one row each."""

from __future__ import annotations

import difflib

from jaxann.errors import JaxannError


def add_arguments(p):
    p.description = ("List every run found in or under the folders (each `jaxann train --out` run, each model "
                     "of a `jaxann sweep --out` sweep): one row per run with the settings that differ between "
                     "them, the epochs it ran (n_iter), training and test scores, training seconds and when it "
                     "ended.")
    p.add_argument("folders", metavar="DIR", nargs="+", help="folders to look in (and under)")
    p.add_argument("--sort", metavar="COLUMN", default="when",
                   help="order the rows by this column (default when: oldest first)")
    p.add_argument("--reverse", action="store_true",
                   help="the other way round (e.g. --sort test --reverse: best first)")
    p.set_defaults(run=run)


def run(args) -> int:
    from jaxann.runs import find_runs, summary

    rows = summary(find_runs(args.folders))
    columns = list(rows[0])
    if args.sort not in columns:
        close = difflib.get_close_matches(args.sort, columns, n=1)
        raise JaxannError(f"--sort {args.sort}: no such column; expected one of: {', '.join(columns)}"
                          + (f"; did you mean {close[0]}?" if close else ""))
    present = [r for r in rows if r[args.sort] is not None]  # rows without the value go last
    present.sort(key=lambda r: _key(r[args.sort]), reverse=args.reverse)
    print(table(columns, present + [r for r in rows if r[args.sort] is None]))
    return 0


def _key(value):
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def _cell(column: str, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float):
        if column in ("train", "test"):
            return f"{value:.4f}"
        return f"{value:.2f}" if column == "seconds" else f"{value:g}"
    return str(value)


def table(columns, rows) -> str:
    """Rows of dicts as an aligned text table: text left, numbers right."""
    cells = [[_cell(c, r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r[c], (int, float)) or r[c] is None for r in rows) for c in columns]

    def line(values):
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])
