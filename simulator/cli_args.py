"""`ivr simulate`'s flags and the scenario they describe (the wiring is in ivr/cli.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.distributions import Distribution, Shift
from simulator.people import HANG_UP

if TYPE_CHECKING:  # the parser is built for every `ivr` command: keep its imports light
    from flows.model import Flow
    from simulator.contact_centre import Scenario


def _choice(text: str) -> tuple[str, float]:
    key, sep, weight = text.partition("=")
    try:
        if not sep or not key:
            raise ValueError
        return key, float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not KEY=WEIGHT (e.g. 1=3, 0=1, {HANG_UP}=0.5, main_menu.2=1)"
        ) from None


def _typed(parse: type[Distribution] | type[Shift]) -> Callable[[str], object]:
    def convert(text: str) -> object:
        try:
            return parse.parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a probability between 0 and 1")
    return value


def add_arguments(sim: argparse.ArgumentParser) -> None:
    sim.add_argument(
        "--flow",
        default=None,
        metavar="ID",
        help="the flow callers dial (default: the default flow, else the first)",
    )
    sim.add_argument(
        "--rate",
        type=float,
        default=60.0,
        metavar="CALLS_PER_HOUR",
        help="Poisson arrival rate (default 60 calls an hour)",
    )
    sim.add_argument(
        "--minutes",
        type=float,
        default=60.0,
        help="how long callers keep arriving, in simulated minutes (default 60)",
    )
    sim.add_argument(
        "--agents",
        type=_typed(Shift),
        action="append",
        metavar="SHIFT",
        help="agents on the agent line: N (all the time) or N@START-END in "
        "seconds, e.g. 3@0-1800; repeat for several shifts (default 2)",
    )
    sim.add_argument(
        "--handle",
        type=_typed(Distribution),
        default=Distribution("exp", 180),
        metavar="DIST",
        help="agents' handle time: SECONDS (exponential mean), "
        "exp:S, fixed:S or uniform:LOW-HIGH (default exp:180)",
    )
    sim.add_argument(
        "--patience",
        type=_typed(Distribution),
        default=Distribution("exp", 300),
        metavar="DIST",
        help="how long callers wait in a queue before hanging "
        "up, same forms as --handle (default exp:300)",
    )
    sim.add_argument(
        "--choice",
        type=_choice,
        action="append",
        default=[],
        metavar="KEY=WEIGHT",
        help=f"menu choice weights by key, '{HANG_UP}' to "
        "hang up, or NODE.KEY for one menu; repeatable (default: options alike)",
    )
    sim.add_argument(
        "--speech",
        type=_share,
        default=0.3,
        metavar="SHARE",
        help="share of menu answers spoken instead of keyed (default 0.3)",
    )
    sim.add_argument(
        "--callback-accept",
        type=_share,
        default=0.5,
        metavar="P",
        help="probability a caller takes an offered callback (default 0.5)",
    )
    sim.add_argument(
        "--callback-answer",
        type=_share,
        default=0.9,
        metavar="P",
        help="probability a caller answers the callback (default 0.9)",
    )
    sim.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    sim.add_argument(
        "--url",
        default=None,
        metavar="PUBLIC_URL",
        help="run at the wall clock against a running `ivr serve` at this "
        "public URL (signed with TWILIO_AUTH_TOKEN) instead of in-process",
    )
    sim.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="URL",
        help="with --url: send requests round-robin to these servers",
    )
    sim.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="with --url: run this many times faster than the wall clock",
    )


def scenario(args: argparse.Namespace, flow: Flow) -> Scenario:
    from simulator.contact_centre import Scenario

    return Scenario(
        flow,
        calls_per_hour=args.rate,
        duration=args.minutes * 60,
        handle=args.handle,
        shifts=tuple(args.agents or [Shift(2)]),
        choices=dict(args.choice),
        speech_share=args.speech,
        patience=args.patience,
        callback_acceptance=args.callback_accept,
        callback_answer=args.callback_answer,
        seed=args.seed,
    )
