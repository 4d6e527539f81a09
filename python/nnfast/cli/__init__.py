"""The nnfast command: demo, train, predict, evaluate, info, export, bench, --version.

Each subcommand is a module with add_parser(commands) and run(args). Every problem a user can
cause (a missing or unreadable file, a bad column, a model that does not fit the data) ends
with one line on stderr and exit status 2, never a traceback.
"""
import argparse
import sys

from ..data.tables import DataError
from ..models.files import ModelFileError
from . import bench, demo, evaluate, export, info, predict, train, version
from .common import CommandError

SUBCOMMANDS = (demo, train, predict, evaluate, info, export, bench)
# What a user's input can raise, reported as one line. ValueError and TypeError cover the
# models' own argument checks (e.g. an unknown activation name given through the API).
USER_ERRORS = (CommandError, DataError, ModelFileError, OSError, ValueError, TypeError,
               FloatingPointError)

EXAMPLES = """\
start here:
  nnfast demo                                    the seed documents' examples
  nnfast train iris --standardize --out iris.npz --validation 0.2
  nnfast evaluate iris.npz iris
  nnfast predict iris.npz iris --proba
  nnfast export iris.npz --c iris_model.h
each command has its own help: nnfast train --help"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nnfast", description="Perceptrons and multi-layer perceptrons on the CPU.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true",
                        help="print the version (with --verbose, the build report: kernels, "
                             "CPU features, threads, compiler, OpenMP) and exit")
    parser.add_argument("--verbose", action="store_true", help="with --version: the build report")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(commands)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return report_errors("bench", lambda: bench.run(argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        return version.run(args.verbose)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return report_errors(args.command, lambda: args.run(args))


def report_errors(command, run):
    """run(), with a user's error reported as `nnfast COMMAND: error: ...` and status 2."""
    try:
        return run()
    except USER_ERRORS as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and exc.strerror:
            message = f"{exc.filename}: {exc.strerror}"
        print(f"nnfast {command}: error: {message}", file=sys.stderr)
        return exc.status if isinstance(exc, CommandError) else 2
    except KeyboardInterrupt:
        print(f"nnfast {command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
