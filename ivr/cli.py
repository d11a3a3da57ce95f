"""The `ivr` command: the one place that wires the layers together."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from flows.catalog import check_paths
from flows.graph import to_dot, to_mermaid
from flows.loader import LoadedFlow, load_path
from flows.problems import FlowError
from flows.schema import flow_json_schema
from ivr.terminal import run_call

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_HUNG_UP = 0, 1, 2, 3


def _lint(args: argparse.Namespace) -> int:
    _, problems = check_paths(args.paths)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if problems:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return EXIT_PROBLEMS if errors or (args.strict and warnings) else EXIT_OK


def _schema(_: argparse.Namespace) -> int:
    print(json.dumps(flow_json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _load_or_report(path: str) -> LoadedFlow | None:
    try:
        return load_path(path)
    except FlowError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return None


def _graph(args: argparse.Namespace) -> int:
    loaded = _load_or_report(args.flow)
    if loaded is None:
        return EXIT_PROBLEMS
    print(to_mermaid(loaded.flow) if args.format == "mermaid" else to_dot(loaded.flow), end="")
    return EXIT_OK


def _interactive_turns() -> Iterator[str]:
    while True:
        try:
            yield input("caller> ")
        except EOFError:
            return


def _call(args: argparse.Namespace) -> int:
    loaded = _load_or_report(args.flow)
    if loaded is None:
        return EXIT_PROBLEMS
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    if args.input is not None:
        turns: Iterator[str] = iter(args.input.split(","))
    else:
        print("Type keys (1, 123456#) or words; an empty line is silence; Ctrl-D hangs up.")
        turns = _interactive_turns()
    fixed = args.at

    def now() -> datetime:
        return fixed if fixed is not None else datetime.now(UTC)

    result = run_call(
        loaded,
        turns,
        lambda line: print(line, flush=True),
        caller=args.caller,
        dialed=args.dialed,
        now=now,
        dial_status=args.dial_status,
    )
    return EXIT_OK if result.destination is not None else EXIT_HUNG_UP


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a time; use ISO 8601 like 2026-11-23T10:00:00-05:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ivr",
        description="IVR call flows for Twilio where a person is always one key or word away.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lint = commands.add_parser(
        "lint",
        help="check flow files; exit 1 on errors",
        description="Check flow files and folders of *.yaml. Prints path:line:col: CODE message "
        "per problem. Exit 0 when clean, 1 on errors (or on warnings with --strict).",
    )
    lint.add_argument("paths", nargs="+", metavar="PATH", help="flow file or folder")
    lint.add_argument("--strict", action="store_true", help="fail on warnings too")
    lint.set_defaults(run=_lint)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of flow files",
        description="Print the JSON Schema of flow files to stdout (for editors and the YAML "
        "language server).",
    )
    schema.set_defaults(run=_schema)

    graph = commands.add_parser(
        "graph",
        help="draw a flow, escape routes included",
        description="Print a flow as a Mermaid or Graphviz dot graph. Dashed edges are the "
        "escape routes to a person.",
    )
    graph.add_argument("flow", metavar="FLOW", help="flow file")
    graph.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    graph.set_defaults(run=_graph)

    call = commands.add_parser(
        "call",
        help="dial a flow in the terminal",
        description="Dial a flow in the terminal: prompts are printed, you type keys or words. "
        "With --input the caller's turns are scripted. Exit 0 when the call reaches a queue, "
        "transfer, callback, voicemail or end; 3 when the turns run out at a prompt (the "
        "caller hung up); 1 when the flow has errors.",
    )
    call.add_argument("flow", metavar="FLOW", help="flow file")
    call.add_argument(
        "--input",
        metavar="TURNS",
        help='comma-separated turns: keys ("1", "123456#"), words ("agent"), or empty for '
        'silence, e.g. "1,123456#,,agent"',
    )
    call.add_argument("--caller", default="+15555550100", help="the caller's number (From)")
    call.add_argument("--dialed", default="", help="the number dialed (To); default: the flow's")
    call.add_argument(
        "--at",
        type=_moment,
        default=None,
        metavar="TIME",
        help="pretend the call happens at this ISO 8601 time (to try opening hours)",
    )
    call.add_argument(
        "--dial-status",
        default="answered",
        choices=("answered", "busy", "no-answer", "failed"),
        help="how transfers end (to try on_fail routes)",
    )
    call.set_defaults(run=_call)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
