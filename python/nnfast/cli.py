"""The nnfast command: `nnfast demo`, `nnfast --version`."""
import argparse
import sys

from ._version import __version__


def command_demo(args):
    from . import demo

    demo.run()
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nnfast", description="Perceptrons and multi-layer perceptrons on the CPU.",
        epilog="example: nnfast demo")
    parser.add_argument("--version", action="version", version=f"nnfast {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="run the seed documents' examples, native core vs reference",
        description="Run the seed documents' examples on the native core and the pure-Python "
                    "reference side by side, with the time each took.",
        epilog="example: nnfast demo")
    demo.set_defaults(run=command_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
