"""The ``mlp-studio`` command.

With no command it opens the window (or, with --screenshot, renders it to
a file; with --selftest, checks that the installation works); ``train``,
``predict`` and ``open`` are in ``mlp_studio.cli``.
Only the window's paths import Qt.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mlp_studio import __version__, cli
from mlp_studio.core import process


def build_parser() -> cli.Parser:
    parser = cli.Parser(
        prog=cli.PROG,
        description="Draw a data set, build a multi-layer perceptron and "
                    "watch backpropagation train it.")
    parser.add_argument("--version", action="version",
                        version=f"MLP Studio {__version__}")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="train, render the whole window to a PNG file "
                             "and exit (works without a screen)")
    parser.add_argument("--steps", type=int, default=500, metavar="N",
                        help="updates to train before --screenshot "
                             "(default 500)")
    parser.add_argument("--selftest", action="store_true",
                        help="check that training, the model exports and "
                             "the window work, print one line per check "
                             "and exit (works without a screen)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="log debug messages")
    # The window's trainer starts the program again with this to train in
    # a process of its own (mlp_studio.core.process).
    parser.add_argument(process.FLAG, action="store_true",
                        help=argparse.SUPPRESS)
    cli.add_commands(parser)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s")
    if args.training_process:
        return process.serve()
    if args.selftest and (args.command or args.screenshot):
        print(f"mlp-studio: --selftest cannot be combined with "
              f"{args.command or '--screenshot'}", file=sys.stderr)
        return 2
    if args.command is not None:
        if args.screenshot:
            print(f"mlp-studio: --screenshot cannot be combined with "
                  f"{args.command}", file=sys.stderr)
            return 2
        return cli.run_command(args)
    if args.steps < 0:
        print("mlp-studio: --steps must be 0 or more", file=sys.stderr)
        return 2

    from mlp_studio.app import application

    if args.selftest:
        return application.self_test(
            lambda line: print(line, flush=True))
    if args.screenshot:
        try:
            return application.take_screenshot(args.screenshot, args.steps)
        except (OSError, TimeoutError) as exc:
            print(f"mlp-studio: {exc}", file=sys.stderr)
            return 1
    return application.run_window()


if __name__ == "__main__":
    sys.exit(main())
