"""jaxann's error type: every rejection of bad input raises `JaxannError`.

It is a `ValueError`, so code that catches ValueError (as scikit-learn users do) keeps
working; the command line turns it into one line on stderr and exit status 2.
"""


class JaxannError(ValueError):
    """Bad input to jaxann: the message says what was wrong and what was expected."""


class TrainingDiverged(Exception):
    """Training produced a non-finite loss or parameters (the command line exits 1: not a
    usage error)."""
