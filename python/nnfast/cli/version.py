"""`nnfast --version [--verbose]`: the version, and with --verbose the build report."""
from .._version import __version__


def build_report():
    """The build report as text: nnfast.config.show_config() when the package has it, else
    the fields of nnfast._core.build_info()."""
    import contextlib
    import io

    try:
        from ..config import show_config as show
    except ImportError:
        show = None
    if show is not None:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            returned = show()
        return (buffer.getvalue() or str(returned or "")).rstrip("\n")
    from .. import _core

    info = _core.build_info()
    width = max(len(key) for key in info)
    return "\n".join(f"{key:<{width}}  {value}" for key, value in info.items())


def run(verbose, out=print):
    out(f"nnfast {__version__}")
    if verbose:
        out(build_report())
    return 0
