"""`jaxann cache`: what the program store and the data cache hold, and clearing them."""

from __future__ import annotations

from pathlib import Path

PARTS = ("programs", "parsed", "downloads")


def add_arguments(p):
    p.description = ("Show what jaxann keeps on disk: the compiled-program store (at most "
                     "$JAXANN_COMPILE_CACHE_MAX, default 1G; the programs used longest ago go first), the "
                     "parsed data sets and the downloaded ones. --clear removes one part, or all.")
    p.add_argument("--clear", choices=[*PARTS, "all"], help="remove that part of the cache")
    p.set_defaults(run=run)


def _parts() -> dict:
    """part -> (folder, its files)."""
    from jaxann.program_store import cache_folder, stored_programs
    from jaxann.data import DATASETS
    from jaxann.files import cache_dir

    root = cache_dir()
    programs = cache_folder()
    downloads = [f for name in DATASETS for f in sorted((root / name).glob("*.gz"))]
    return {
        "programs": (Path(programs) if programs else None, stored_programs(programs) if programs else []),
        "parsed": (root / "parsed", sorted((root / "parsed").glob("*.npy"))),
        "downloads": (root, downloads),
    }


def _size(n: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def run(args) -> int:
    from jaxann.program_store import store_limit
    from jaxann.console import count

    parts = _parts()
    if args.clear:
        for part in PARTS if args.clear == "all" else (args.clear,):
            folder, files = parts[part]
            for f in files:
                f.unlink(missing_ok=True)
            print(f"Removed {count(len(files), 'file')} of {part} ({folder})")
        parts = _parts()
    print(f"| {'part':<9} | {'files':>5} | {'size':>8} | folder |")
    print(f"| {'-' * 9} | {'-' * 5} | {'-' * 8} | ------ |")
    for part, (folder, files) in parts.items():
        total = sum(f.stat().st_size for f in files)
        where = folder if folder is not None else "off (JAXANN_COMPILE_CACHE=0)"
        print(f"| {part:<9} | {len(files):>5} | {_size(total):>8} | {where} |")
    print(f"The program store keeps at most {_size(store_limit())} (JAXANN_COMPILE_CACHE_MAX).")
    return 0
