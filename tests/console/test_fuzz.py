"""Property test of the JSON API against its own OpenAPI document: no input gives a 500.

Schemathesis generates requests for every operation (bounded: a few examples each) and Hypothesis
runs them; a broker answer of 503 is allowed, a 500 never. Topic creation is left out so fuzzing
cannot fill the shared test cluster with random topics of thousands of partitions; its input
validation is covered by test_api.py.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import csrf_client, make_app

EXAMPLES = 6


def test_no_input_gives_a_server_error(cluster):
    app = make_app(cluster, sample_interval=0)
    c = csrf_client(app)
    headers = {"X-CSRF-Token": c.headers["X-CSRF-Token"],
               "Cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items())}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    seen, failures = [], []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.method.upper() == "POST" and op.path == "/api/topics":
            continue
        seen.append(f"{op.method.upper()} {op.path}")

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case):
            response = case.call(headers=headers)
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> "
                                f"{response.status_code}: {response.text[:200]}")

        run()
    assert len(seen) >= 12, seen
    assert not failures, "\n".join(failures[:10])
