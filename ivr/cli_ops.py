"""The operations side of the command line: `ivr serve`'s access, privacy and logging
options, and `ivr db prune`."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from ivr import logs
from ivr.audit import admin_action, command_user
from ivr.privacy import NUMBER_POLICIES, Privacy

EXIT_OK, EXIT_PROBLEMS = 0, 1


def privacy_of(args: argparse.Namespace) -> Privacy:
    """The privacy settings: `ivr serve`'s flags over the environment (PrivacyError)."""
    return Privacy.from_env(
        os.environ,
        numbers=args.store_numbers,
        speech=args.store_speech,
        recordings=args.store_recordings,
    )


def add_serve_ops_options(serve: argparse.ArgumentParser) -> None:
    """Access, privacy and logging options of `ivr serve`."""
    serve.add_argument(
        "--api-key",
        default=None,
        help="key for /api/*, the dashboard and /metrics (env IVR_API_KEY; several "
        "comma-separated); without one they answer only on a loopback --host",
    )
    serve.add_argument(
        "--store-numbers",
        choices=NUMBER_POLICIES,
        default=None,
        help="caller numbers in the database: keep, mask (+1500555****) or hash (HMAC with "
        "IVR_HASH_KEY) (env IVR_STORE_NUMBERS; default keep)",
    )
    serve.add_argument(
        "--store-speech",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep what callers said word for word; --no-store-speech keeps [speech] "
        "(env IVR_STORE_SPEECH=off)",
    )
    serve.add_argument(
        "--store-recordings",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep voicemail recording URLs (env IVR_STORE_RECORDINGS=off to drop them)",
    )
    serve.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default=os.environ.get("IVR_LOG_FORMAT", "auto"),
        help="json (one object per line), text, or auto: text at a terminal, json "
        "elsewhere (env IVR_LOG_FORMAT)",
    )


def add_prune_command(db_commands: Any) -> None:
    """`ivr db prune`."""
    prune = db_commands.add_parser(
        "prune",
        help="delete calls, events and finished callbacks older than an age",
        description="Delete calls whose last event is older than --older-than, with all of "
        "their events, and finished callbacks older than that, in batches. Open callbacks "
        "are kept, with their calls; so are the calls' summaries, which hold no caller's "
        "number: reports of the pruned days stay. Logged as an admin action.",
    )
    prune.add_argument(
        "--older-than",
        type=_age,
        required="IVR_RETENTION" not in os.environ,
        default=os.environ.get("IVR_RETENTION"),  # argparse reads it with _age too
        metavar="AGE",
        help="how old rows must be: 90d, 36h, 30m (env IVR_RETENTION)",
    )
    prune.add_argument(
        "--db",
        default=os.environ.get("IVR_DB", "sqlite:///ivr.db"),
        help="database URL (env IVR_DB)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted, delete nothing"
    )
    prune.set_defaults(run=db_prune)


def db_prune(args: argparse.Namespace) -> int:
    from analytics.errors import StoreError
    from analytics.moments import epoch_ms
    from analytics.store import Store

    logs.configure_once()
    before = datetime.now(UTC) - args.older_than
    try:
        with Store(args.db) as store:
            store.upgrade()
            counts = store.prune(epoch_ms(before), dry_run=args.dry_run)
            url = store.url
    except StoreError as err:
        print(f"ivr db prune: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    listed = ", ".join(f"{n} {table}" for table, n in counts.items())
    when = before.isoformat(timespec="seconds")
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{url}: {verb} {listed} from before {when}")
    admin_action(
        command_user(),
        "db prune (dry run)" if args.dry_run else "db prune",
        database=url,
        before=when,
        rows=counts,
    )
    return EXIT_OK


def _age(text: str) -> timedelta:
    """`90d`, `12h`, `30m`: how old rows must be to be pruned."""
    from flows.durations import parse_duration

    try:
        if text.endswith("d") and text[:-1].isdigit():
            age = timedelta(days=int(text[:-1]))
        else:
            age = timedelta(seconds=parse_duration(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an age; write it like 90d, 36h or 30m"
        ) from None
    if age <= timedelta(0):
        raise argparse.ArgumentTypeError("the age must be more than zero")
    return age
