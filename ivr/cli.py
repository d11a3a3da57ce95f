"""The `ivr` command: the one place that wires the layers together."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flows.catalog import check_paths
from flows.graph import to_dot, to_mermaid
from flows.loader import LoadedFlow, load_path
from flows.problems import FlowError
from flows.schema import flow_json_schema
from ivr import logs
from ivr.cli_ops import add_prune_command, add_serve_ops_options, privacy_of
from ivr.ports import CallLog, MemoryCallLog
from ivr.privacy import Privacy
from ivr.terminal import run_call
from simulator import cli_args as simulator_args

if TYPE_CHECKING:
    from fastapi import APIRouter

    from flows.versions import ServedFlows
    from webhooks.settings import Settings

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


def _serve(args: argparse.Namespace) -> int:
    # The server and database layers are imported only by the commands that use them, so
    # `ivr lint` and `ivr call` start fast.
    import uvicorn

    from analytics.call_log import StoreCallLog
    from analytics.errors import StoreError
    from flows.versions import ServedFlows
    from ivr.flow_watch import FlowWatcher
    from webhooks.access import exposure_problem
    from webhooks.app import create_app
    from webhooks.settings import Settings

    logs.configure(args.log_format)
    try:
        served = ServedFlows(args.flows.split(os.pathsep))
    except FlowError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        print("not serving: fix the flow errors above", file=sys.stderr)
        return EXIT_PROBLEMS
    settings = Settings.from_env(
        os.environ,
        public_url=args.public_url,
        insecure_dev=args.insecure_dev or None,
        api_keys=args.api_key,
    )
    exposed = exposure_problem(settings, args.host)
    if exposed is not None:
        print(f"ivr serve: {exposed}", file=sys.stderr)
        return EXIT_USAGE
    try:
        privacy = privacy_of(args)
        call_log = open_call_log(args.db, args.spool, privacy)
        app = create_app(settings, served.catalog, call_log)
        app.include_router(_phone(settings, served, args))  # `/phone`: try a flow in a browser
    except (ValueError, StoreError) as err:
        print(f"ivr serve: {err}", file=sys.stderr)
        return EXIT_USAGE
    base = settings.public_url or f"http://{args.host}:{args.port}"
    catalog = served.catalog()
    print(f"Serving {len(catalog.flows)} flow(s): " + ", ".join(f.flow.id for f in catalog.flows))
    print(f"Database: {args.db}")
    print("Paste into the Twilio console (Phone Numbers > your number > Voice configuration):")
    print(f"  A call comes in:        POST {base}/twilio/voice")
    print(f"  Primary handler fails:  POST {base}/twilio/fallback")
    print(f"  Call status changes:    POST {base}/twilio/status")
    print(f"  Agent line number:      POST {base}/twilio/agent")
    if settings.public_url is None:
        print("  (set IVR_PUBLIC_URL or --public-url to the address Twilio reaches, e.g. ngrok's)")
    if settings.auth_token is None:
        print("WARNING: insecure dev mode: Twilio signatures are NOT checked.", file=sys.stderr)
    flusher = call_log.flusher() if isinstance(call_log, StoreCallLog) else None
    if flusher is not None:
        flusher.start()
    watcher = FlowWatcher(served)
    if args.watch:
        watcher.start()
    signal.signal(signal.SIGHUP, lambda *_: watcher.reload_now("SIGHUP"))
    watching = f"Watching {args.flows} for edits; " if args.watch else ""
    print(f"{watching}reload the flows with: kill -HUP {os.getpid()}")
    try:
        # Our own loggers and format for uvicorn's lines too; our request line replaces
        # its access log, which would write the query strings (call state) to the log.
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    finally:
        watcher.stop()
        if flusher is not None:
            flusher.stop()
    return EXIT_OK


def _phone(settings: Settings, served: ServedFlows, args: argparse.Namespace) -> APIRouter:
    """The `/phone` page's router: its stand-in calls this very server, signed as Twilio."""
    from simulator.phone_page import Line, lines_of, phone_router

    local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    local = f"http://[{local}]:{args.port}" if ":" in local else f"http://{local}:{args.port}"
    token = settings.auth_token.get_secret_value() if settings.auth_token else None

    def lines() -> list[Line]:  # read on each request: the chooser follows hot reloads
        return lines_of(served.catalog())

    return phone_router(lines, settings.public_url or local, token, host=local)


def _simulate(args: argparse.Namespace) -> int:
    import secrets

    from flows.catalog import load_catalog
    from simulator import cli_args, run
    from webhooks.app import create_app
    from webhooks.settings import Settings

    try:
        catalog = load_catalog(args.flows.split(os.pathsep))
    except FlowError as err:
        print("\n".join(map(str, err.problems)), file=sys.stderr)
        return EXIT_PROBLEMS
    found = [f for f in catalog.flows if args.flow in (None, f.flow.id)]
    found.sort(key=lambda f: bool(f.flow.numbers))  # the default flow first
    if not found:
        print(f"ivr simulate: no flow '{args.flow}' in {args.flows}", file=sys.stderr)
        return EXIT_USAGE
    scenario = cli_args.scenario(args, found[0].flow)
    if args.url:
        token = os.environ.get("TWILIO_AUTH_TOKEN")
        tally = run.against(scenario, args.url, auth_token=token, hosts=args.host, speed=args.speed)
    else:
        token = secrets.token_hex(16)  # in-process: signatures are checked all the same
        call_log = open_call_log(args.db, args.spool)
        settings = Settings.from_env({"TWILIO_AUTH_TOKEN": token})
        tally = run.in_process(
            scenario,
            lambda clock: create_app(settings, lambda: catalog, call_log, clock),
            auth_token=token,
            start=args.start,
        )
    print("\n".join(tally.lines()))
    report = simulation_report(args.db) if not args.url else None
    if report:
        print(report)
    return EXIT_OK


def simulation_report(db_url: str) -> str | None:
    """HOOK for the reports (analytics): the report summary of the simulated day, printed
    after the simulator's own tally. None until the reports are wired in here."""
    return None


def _db_upgrade(args: argparse.Namespace) -> int:
    from analytics.errors import StoreError
    from analytics.store import Store

    try:
        with Store(args.db) as store:
            store.upgrade()
            print(f"{store.url}: schema at revision {store.revision()}")
    except StoreError as err:
        print(f"ivr db upgrade: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def open_call_log(
    db_url: str, spool_dir: str = ".ivr-spool", privacy: Privacy | None = None
) -> CallLog:
    """Where calls and events are kept: `memory://` (nothing kept) or a database URL,
    migrated on the way in; `privacy` says what of a caller is written down."""
    if db_url == "memory://":
        return MemoryCallLog()
    from analytics.call_log import StoreCallLog

    return StoreCallLog.open(db_url, spool_dir, privacy)


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

    serve = commands.add_parser(
        "serve",
        help="answer Twilio's webhooks",
        description="Serve the flows to Twilio (FastAPI on uvicorn). Needs TWILIO_AUTH_TOKEN "
        "to check request signatures, or --insecure-dev. Applies database migrations first.",
    )
    serve.add_argument(
        "--flows",
        default=os.environ.get("IVR_FLOWS", "flows.example.yaml"),
        help="flow file or folder of *.yaml (env IVR_FLOWS; default flows.example.yaml)",
    )
    serve.add_argument(
        "--db",
        default=os.environ.get("IVR_DB", "sqlite:///ivr.db"),
        help="database URL: sqlite:///ivr.db (default, env IVR_DB), "
        "postgresql+psycopg://user@host/db, or memory:// to keep nothing",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--public-url", default=None, help="the base URL Twilio calls (IVR_PUBLIC_URL)"
    )
    serve.add_argument(
        "--insecure-dev",
        action="store_true",
        help="accept requests without a valid Twilio signature (local experiments only)",
    )
    serve.add_argument(
        "--spool",
        default=os.environ.get("IVR_SPOOL", ".ivr-spool"),
        help="folder where events wait while the database is unreachable (env IVR_SPOOL)",
    )
    add_serve_ops_options(serve)
    serve.add_argument(
        "--no-watch",
        dest="watch",
        action="store_false",
        help="do not reload the flows when their files change; reload only on SIGHUP",
    )
    serve.set_defaults(run=_serve)

    sim = commands.add_parser(
        "simulate",
        help="simulate a contact centre through the real server",
        description="Simulate callers and agents through the real webhooks and database, "
        "faster than real time (or at the wall clock against a running server with --url). "
        "Prints the simulator's tally; the database is left for the dashboard and reports.",
    )
    sim.add_argument("--flows", default=os.environ.get("IVR_FLOWS", "flows.example.yaml"))
    sim.add_argument("--db", default="sqlite:///ivr-simulation.db",
                     help="database the server writes (default sqlite:///ivr-simulation.db)")
    sim.add_argument("--spool", default=".ivr-spool", help=argparse.SUPPRESS)
    sim.add_argument("--start", type=_moment, default=None, metavar="TIME",
                     help="simulated start time, ISO 8601 (default now; opening hours apply)")
    simulator_args.add_arguments(sim)
    sim.set_defaults(run=_simulate)

    db = commands.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser(
        "upgrade",
        help="apply the schema migrations",
        description="Apply the Alembic migrations the database lacks (ivr serve does it too).",
    )
    upgrade.add_argument(
        "--db",
        default=os.environ.get("IVR_DB", "sqlite:///ivr.db"),
        help="database URL (env IVR_DB)",
    )
    upgrade.set_defaults(run=_db_upgrade)
    add_prune_command(db_commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
