"""`nnfast demo`: the seed documents' examples, the first thing a newcomer runs."""


def add_parser(commands):
    p = commands.add_parser(
        "demo", help="run the seed documents' examples, native core vs reference",
        description="Run the seed documents' examples on the native core and the pure-Python "
                    "reference side by side, with the time each took.",
        epilog="example: nnfast demo")
    p.set_defaults(run=run)
    return p


def run(args, out=print):
    from .. import demo

    demo.run()
    return 0
