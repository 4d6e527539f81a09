"""`nnfast bench ...`: the benchmark comparison (nnfast.benchmark), every argument passed on."""

DESCRIPTION = ("Run the benchmark comparison of nnfast.benchmark; every argument after "
               "`bench` is passed to it (nnfast bench --help shows its own options).")


def add_parser(commands):
    # Registered for `nnfast --help` only: main() hands `bench` and the rest of the command
    # line to nnfast.benchmark.main untouched, so its options need no copy here.
    return commands.add_parser("bench", help="run the benchmark comparison (nnfast bench "
                                             "--help for its options)",
                               description=DESCRIPTION, add_help=False)


def run(argv):
    """nnfast.benchmark.main(argv), imported only now: the rest of the command line works
    without it."""
    from .common import CommandError

    try:
        from .. import benchmark
    except ImportError as exc:
        if getattr(exc, "name", None) in ("nnfast.benchmark", None):
            raise CommandError("the benchmark suite (nnfast.benchmark) is not part of this "
                               "installation") from None
        raise CommandError(f"the benchmark suite needs {exc.name}, which is not installed "
                           f"({exc})") from None
    status = benchmark.main(list(argv))
    return 0 if status is None else status
