"""`nnfast --version [--verbose]`: the version, and with --verbose the build report."""
from .._version import __version__


def build_report():
    """The build report as text: what nnfast.show_config() prints."""
    from ..config import config, format_config

    return format_config(config())


def run(verbose, out=print):
    out(f"nnfast {__version__}")
    if verbose:
        out(build_report())
    return 0
