"""Fault scenarios that check Kafka's promise on a real cluster: no acknowledged message lost.

``run(scenario, cluster)`` runs one scenario on a kpoc-managed 3-node cluster and returns a
:class:`Verdict`; :func:`check` is the broker-free comparison of acknowledged and consumed messages
it rests on.
"""

from .checker import (
    Delivery,
    DeliveryCheck,
    Seen,
    check,
    format_value,
    group_recovery,
    parse_value,
    redelivery_bound,
)
from .scenarios import (
    CATCH_UP_BOUND,
    SCENARIOS,
    SHARE_KILL,
    Scenario,
    Verdict,
    heal,
    resolve,
    run,
)

__all__ = [
    "CATCH_UP_BOUND",
    "SCENARIOS",
    "SHARE_KILL",
    "Delivery",
    "DeliveryCheck",
    "Scenario",
    "Seen",
    "Verdict",
    "check",
    "format_value",
    "group_recovery",
    "heal",
    "parse_value",
    "redelivery_bound",
    "resolve",
    "run",
]
