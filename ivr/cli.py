"""The `ivr` command: the one place that wires the layers together."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
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
    # With --at the call starts then and its clock runs on from there, so a call that took
    # you 20 s lasts 20 s in the reports too.
    started: datetime | None = args.at
    begun = time.monotonic()

    def now() -> datetime:
        if started is None:
            return datetime.now(UTC)
        return started + timedelta(seconds=time.monotonic() - begun)

    log = None
    if args.db is not None:
        from analytics.errors import StoreError

        try:
            log = open_call_log(args.db, args.spool)
        except StoreError as err:
            print(f"ivr call: {err}", file=sys.stderr)
            return EXIT_USAGE
    try:
        result = run_call(
            loaded,
            turns,
            lambda line: print(line, flush=True),
            caller=args.caller,
            dialed=args.dialed,
            now=now,
            dial_status=args.dial_status,
            log=log,
            call_sid=f"CAterminal{uuid.uuid4().hex}" if log is not None else "CA-terminal",
        )
    finally:
        _close(log)
    return EXIT_OK if result.destination is not None else EXIT_HUNG_UP


def _close(log: CallLog | None) -> None:
    """A database call log writes what is pending (or journals it) and lets go."""
    close = getattr(log, "close", None)
    if close is not None:
        close()


def _serve(args: argparse.Namespace) -> int:
    # The server and database layers are imported only by the commands that use them, so
    # `ivr lint` and `ivr call` start fast.
    import uvicorn

    from analytics.call_log import StoreCallLog
    from analytics.errors import StoreError
    from flows.versions import ServedFlows
    from ivr.flow_watch import FlowWatcher
    from ivr.malloc import limit_arenas
    from webhooks.access import exposure_problem
    from webhooks.app import create_app
    from webhooks.settings import Settings

    limit_arenas()  # before any thread starts: memory stays flat over days of serving
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
        reports = None
        if isinstance(call_log, StoreCallLog):
            from analytics.reports import StoreReports

            call_log.store.short_abandon_s = args.short_abandon
            reports = StoreReports(call_log.store, open_timeout=args.call_timeout)
        app = create_app(settings, served.catalog, call_log, reports=reports)
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
    print(f"Dashboard: {base}/   Try a flow in the browser: {base}/phone")
    if settings.public_url is None:
        print("  (set IVR_PUBLIC_URL or --public-url to the address Twilio reaches, e.g. ngrok's)")
    if settings.auth_token is None:
        print("WARNING: insecure dev mode: Twilio signatures are NOT checked.", file=sys.stderr)
    watcher = FlowWatcher(served)
    if args.watch:
        watcher.start()
    signal.signal(signal.SIGHUP, lambda *_: watcher.reload_now("SIGHUP"))
    watching = f"Watching {args.flows} for edits; " if args.watch else ""
    print(f"{watching}reload the flows with: kill -HUP {os.getpid()}")
    sweeper = None
    if isinstance(call_log, StoreCallLog):
        from analytics.sweeper import StaleCallSweeper

        sweeper = StaleCallSweeper(call_log.store, timeout=args.call_timeout)
        sweeper.start()
    try:
        # Our own loggers and format for uvicorn's lines too; our request line replaces
        # its access log, which would write the query strings (call state) to the log.
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    finally:
        watcher.stop()
        if sweeper is not None:
            sweeper.stop()
        if isinstance(call_log, StoreCallLog):
            call_log.close()  # writes what is pending, or spools it
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
        _close(call_log)  # every event in the database before the report reads it
    print("\n".join(tally.lines()))
    report = simulation_report(args.db) if not args.url else None
    if report:
        print(report)
    return EXIT_OK


def simulation_report(db_url: str) -> str | None:
    """The report summary of the simulated calls, from the database the server wrote,
    printed after the simulator's own tally so the two can be compared."""
    if db_url == "memory://":
        return None
    from analytics.reports import StoreReports
    from analytics.store import Store
    from ivr.report_rows import to_table
    from webhooks.reports_api import ReportFilter

    with Store(db_url) as store:
        summary = StoreReports(store).summary(ReportFilter())
    return (
        "Report summary (ivr report summary --db " + db_url + "):\n" + to_table("summary", summary)
    )


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


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool cut off by `head`


def _db_rollup(args: argparse.Namespace) -> int:
    from analytics import Store, StoreError

    try:
        with Store(args.db) as store:
            store.upgrade()
            built = store.roll_up()
    except StoreError as err:
        print(f"ivr db rollup: {err}", file=sys.stderr)
        return 1
    print(f"Rolled up the reports of {built} day(s).")
    return 0


def _db_resummarize(args: argparse.Namespace) -> int:
    from analytics.errors import StoreError
    from analytics.store import Store

    try:
        with Store(args.db, short_abandon_s=args.short_abandon) as store:
            store.upgrade()
            count = store.resummarize()
    except StoreError as err:
        print(f"ivr db resummarize: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{store.url}: {count} call(s) summarised again (short abandon: {args.short_abandon} s)")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from analytics.errors import StoreError
    from analytics.reports import StoreReports
    from analytics.store import Store
    from ivr.report_rows import to_csv, to_table
    from webhooks.reports_api import report_filter

    try:
        window = report_filter(args.since, args.until, args.flow, args.queue)
    except ValueError as err:
        print(f"ivr report: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with Store(args.db) as store:
            store.upgrade()
            reports = StoreReports(store, open_timeout=args.call_timeout)
            data = getattr(reports, args.report.replace("-", "_"))(window)
    except StoreError as err:
        print(f"ivr report: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.format == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        print(to_csv(args.report, data), end="")
    else:
        print(to_table(args.report, data), end="")
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


def _seconds(text: str) -> timedelta:
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None


def _call_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--call-timeout",
        type=_seconds,
        default=_seconds(os.environ.get("IVR_CALL_TIMEOUT", "14400")),
        metavar="SECONDS",
        help="a call with no status callback and no event for this long is over "
        "(env IVR_CALL_TIMEOUT; default 14400, Twilio's 4-hour limit)",
    )


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
        help="pretend the call starts at this ISO 8601 time, its clock running on from there "
        "(to try opening hours)",
    )
    call.add_argument(
        "--dial-status",
        default="answered",
        choices=("answered", "busy", "no-answer", "failed"),
        help="how transfers end (to try on_fail routes)",
    )
    call.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="keep the call in this database, as ivr serve would (then see it in ivr report)",
    )
    call.add_argument(
        "--spool",
        default=os.environ.get("IVR_SPOOL", ".ivr-spool"),
        help="with --db: where events wait while the database is unreachable",
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
    serve.add_argument(
        "--short-abandon",
        type=float,
        default=float(os.environ.get("IVR_SHORT_ABANDON", "5")),
        metavar="SECONDS",
        help="hang-ups within this many seconds of the start are short abandons, left out "
        "of rates (env IVR_SHORT_ABANDON; default 5)",
    )
    _call_timeout_option(serve)
    serve.set_defaults(run=_serve)

    sim = commands.add_parser(
        "simulate",
        help="simulate a contact centre through the real server",
        description="Simulate callers and agents through the real webhooks and database, "
        "faster than real time (or at the wall clock against a running server with --url). "
        "Prints the simulator's tally; the database is left for the dashboard and reports.",
    )
    sim.add_argument("--flows", default=os.environ.get("IVR_FLOWS", "flows.example.yaml"))
    sim.add_argument(
        "--db",
        default="sqlite:///ivr-simulation.db",
        help="database the server writes (default sqlite:///ivr-simulation.db)",
    )
    sim.add_argument("--spool", default=".ivr-spool", help=argparse.SUPPRESS)
    sim.add_argument(
        "--start",
        type=_moment,
        default=None,
        metavar="TIME",
        help="simulated start time, ISO 8601 (default now; opening hours apply)",
    )
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
    resummarize = db_commands.add_parser(
        "resummarize",
        help="work out every call's outcome again from its events",
        description="Work out every call's summary row (its outcome) again from its events, "
        "e.g. after changing the short-abandon threshold.",
    )
    resummarize.add_argument(
        "--db",
        default=os.environ.get("IVR_DB", "sqlite:///ivr.db"),
        help="database URL (env IVR_DB)",
    )
    resummarize.add_argument(
        "--short-abandon",
        type=float,
        default=float(os.environ.get("IVR_SHORT_ABANDON", "5")),
        metavar="SECONDS",
        help="hang-ups within this many seconds are short abandons (env IVR_SHORT_ABANDON)",
    )
    resummarize.set_defaults(run=_db_resummarize)
    rollup = db_commands.add_parser(
        "rollup",
        help="build the report rollups of the days whose calls changed",
        description="Build the per-day report rollups of the days whose calls changed "
        "(ivr serve does it every 5 minutes). Reports are exact without them, only slower "
        "on a long history.",
    )
    rollup.add_argument(
        "--db",
        default=os.environ.get("IVR_DB", "sqlite:///ivr.db"),
        help="database URL (env IVR_DB)",
    )
    rollup.set_defaults(run=_db_rollup)

    from ivr.report_rows import REPORTS

    report = commands.add_parser(
        "report",
        help="print a report: " + ", ".join(REPORTS),
        description="Print a report of the calls in the database (definitions: README, "
        "'Reports and what they count'). Calls count once over: their status callback came, "
        "or nothing happened on them for --call-timeout.",
    )
    report.add_argument("report", choices=REPORTS, metavar="REPORT", help=" | ".join(REPORTS))
    report.add_argument(
        "--db",
        default=os.environ.get("IVR_DB", "sqlite:///ivr.db"),
        help="database URL (env IVR_DB)",
    )
    report.add_argument("--since", help="calls started at or after (ISO date or time, UTC)")
    report.add_argument("--until", help="calls started before (ISO date or time, UTC)")
    report.add_argument("--flow", help="only calls of this flow id")
    report.add_argument("--queue", help="only calls that waited in or asked a callback from it")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")
    _call_timeout_option(report)
    report.set_defaults(run=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`ivr report ... | head`): stop quietly, as Unix tools do;
        # stdout goes to /dev/null so the interpreter's last flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
