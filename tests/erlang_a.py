"""Erlang-A (M/M/n+M), computed independently of the simulator: the exact stationary
distribution of the number of callers in the system, a birth-death chain with births at
rate lambda and deaths at min(k, n) mu + max(k - n, 0) theta (Garnett, Mandelbaum and
Reiman 2002, section 2; Mandelbaum and Zeltyn 2007). Little's law gives the rest:
P(abandon) = theta E[Q] / lambda and E[time in queue] = E[Q] / lambda.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErlangA:
    abandonment: float  # share of arrivals who hang up in the queue
    mean_wait: float  # mean time in queue over all arrivals, served or not
    queue_length: float


def erlang_a(
    arrival_rate: float,
    service_rate: float,
    patience_rate: float,
    agents: int,
    tolerance: float = 1e-13,
) -> ErlangA:
    # pi_k is proportional to the product of birth/death rates; grow until it vanishes.
    weights = [1.0]
    k = 0
    while True:
        k += 1
        death = min(k, agents) * service_rate + max(k - agents, 0) * patience_rate
        weights.append(weights[-1] * arrival_rate / death)
        if k > agents and weights[-1] < tolerance * sum(weights):
            break
    total = sum(weights)
    queue = sum(max(i - agents, 0) * w for i, w in enumerate(weights)) / total
    return ErlangA(patience_rate * queue / arrival_rate, queue / arrival_rate, queue)
