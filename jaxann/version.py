"""jaxann's installed version, for `jaxann --version` and the files jaxann writes."""

from __future__ import annotations


def version() -> str:
    """The installed distribution's version, or 'unknown (not installed)'."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("jaxann")
    except PackageNotFoundError:
        return "unknown (not installed)"
