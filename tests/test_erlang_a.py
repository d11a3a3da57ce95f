"""The simulation through the real server against queueing theory: one queue, Poisson
arrivals, exponential handle times and patience is Erlang-A (M/M/n+M). The measured share
of callers who hang up in the queue and their mean time in it must match the model
within sampling error (batch means over the calls, fixed seeds)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from simulator.contact_centre import QueueVisit
from simulator.distributions import Distribution, Shift
from tests.erlang_a import erlang_a
from tests.simulation import simulate

FLOW = """
id: erlang
escape: {{queue: support}}
agents:
{agents}
queues:
  support: {{announce_every: 2h}}
start: wait
nodes:
  wait: {{queue: support}}
"""


def flow_with(agents: int) -> str:
    return FLOW.format(
        agents="\n".join(
            f'  - {{id: a{i}, phone: "+1500555{i:04d}", queues: [support]}}' for i in range(agents)
        )
    )


BATCHES = 5
WARM_UP = 0.1  # the first calls meet an empty centre, not the steady state


def test_the_model_itself_on_cases_with_known_answers() -> None:
    # Patience as fast as service: the number in the system is Poisson(lambda / mu).
    model = erlang_a(2.0, 1.0, 1.0, 1)
    poisson = [math.exp(-2) * 2**k / math.factorial(k) for k in range(80)]
    assert model.queue_length == pytest.approx(
        sum((k - 1) * p for k, p in enumerate(poisson) if k > 1)
    )
    # Almost no impatience: Erlang C, M/M/1 mean wait rho / (mu - lambda).
    assert erlang_a(0.5, 1.0, 1e-9, 1).mean_wait == pytest.approx(1.0, rel=1e-6)
    # Overloaded, so the queue settles where abandons take the excess: n mu + theta Q = lambda.
    heavy = erlang_a(30.0, 1.0, 1.0, 10)
    assert heavy.abandonment == pytest.approx(2 / 3, rel=0.01)


def batch_error(values: list[float]) -> float:
    size = len(values) // BATCHES
    means = [statistics.fmean(values[i * size : (i + 1) * size]) for i in range(BATCHES)]
    return float(statistics.stdev(means) / math.sqrt(BATCHES))


@pytest.mark.parametrize(
    ("agents", "per_minute", "handle", "patience", "minutes"),
    [
        pytest.param(2, 1.5, 60, 60, 200, id="two-agents-75-percent"),
        pytest.param(4, 3.6, 60, 120, 90, id="four-agents-90-percent"),
        pytest.param(3, 4.2, 60, 60, 70, id="overloaded-140-percent"),
    ],
)
def test_abandonment_and_wait_match_erlang_a(
    tmp_path: Path,
    agents: int,
    per_minute: float,
    handle: float,
    patience: float,
    minutes: float,
) -> None:
    # The model is about the queue, not the storage (tested on both databases elsewhere):
    # the memory call log keeps the run short.
    tally, _ = simulate(
        flow_with(agents),
        "memory://",
        tmp_path,
        seconds_per_word=0.0,
        calls_per_hour=per_minute * 60,
        duration=minutes * 60,
        handle=Distribution("exp", handle),
        patience=Distribution("exp", patience),
        shifts=(Shift(agents),),
        seed=7,
        drain=3600.0,
    )
    visits: list[QueueVisit] = tally.visits[int(len(tally.visits) * WARM_UP) :]
    assert len(visits) > 200
    model = erlang_a(per_minute / 60, 1 / handle, 1 / patience, agents)
    abandoned = [float(v.abandoned) for v in visits]
    waits = [v.waited for v in visits]
    measured_abandon, measured_wait = statistics.fmean(abandoned), statistics.fmean(waits)
    # Four standard errors of the batch means: waits are correlated from caller to caller
    # (busy spells), which batches of ~50 calls capture only in part. The seeds are fixed,
    # so the run is the same every time; a floor for the noise of the estimate itself.
    assert measured_abandon == pytest.approx(
        model.abandonment, abs=max(4 * batch_error(abandoned), 0.02)
    ), (measured_abandon, model)
    assert measured_wait == pytest.approx(model.mean_wait, abs=max(4 * batch_error(waits), 2.0)), (
        measured_wait,
        model,
    )
