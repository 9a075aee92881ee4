"""Contract fuzzing: schemathesis, driven by openapi.yaml, against a real gunicorn serving the samples.

Every operation of the spec, every check schemathesis has (no 5xx, status codes, content types, headers
and bodies as documented, invalid input refused, auth enforced, and the stateful checks that follow the
API's links) except ``positive_data_acceptance``, which cannot hold for a query language: see
``schemathesis.toml`` beside this file for that and the one per-operation exception. ``--max-examples``
is 100 per operation and phase; the server's own request counters (``/metrics``) show that every
operation with an input to vary got at least 100 requests. The eight operations without any input
(``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.yaml``, ``/openapi.json``, ``/docs``,
``GET /v1/feeds`` and ``GET /v1/alerts``) have nothing to generate: schemathesis sends what varies for
them (methods, headers, auth), a handful of requests. ``/metrics`` is fuzzed like the rest; its body
is text, so its schema is ``type: string`` and only its status and content type say anything.

Write endpoints are fuzzed twice: with the right token (the full run) and with none (only the write and
feed operations, each must be a documented 401). Registered feeds point at whatever URLs the fuzzer
makes up; they are refused when private, and otherwise fail to resolve or time out within
``FEEDSIFT_FETCH_TIMEOUT`` (2 s here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import spec
from tests.support.gunicorn import BIN, Server, gunicorn, sample_env
from tests.support.paths import REPO

TOKEN = "contract-fuzz-token-0123456789"
HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
EXAMPLES = 100
SEED = 20261129
# Operations that take no parameters and no body: nothing for schemathesis to vary but methods and headers.
NO_INPUT = {("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"), ("/openapi.yaml", "get"),
            ("/openapi.json", "get"), ("/docs", "get"), ("/v1/feeds", "get"), ("/v1/alerts", "get")}
METHODS = {"get", "post", "delete"}
# gunicorn's default access log line: the request line, the status, and the user agent last.
ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[0-9.]+" (?P<status>[0-9]{3}) .*"schemathesis/')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real gunicorn (two workers) with a token, over an index of the samples built by the CLI."""
    tmp = tmp_path_factory.mktemp("contract")
    env = sample_env(tmp, FEEDSIFT_API_TOKEN=TOKEN, FEEDSIFT_FETCH_TIMEOUT="2")
    with gunicorn(env, tmp / "gunicorn.log") as srv:
        yield srv


def schemathesis(server: Server, work: Path, label: str, *args: str) -> dict[str, Any]:
    """Run ``schemathesis run`` against the server; return its JSON report, failing with its output."""
    report = work / "report.json"
    command = [
        str(BIN / "schemathesis"), "--config-file", str(CONFIG), "--no-color",
        "run", str(REPO / "openapi.yaml"), "--url", server.base,
        "--max-examples", str(EXAMPLES), "--seed", str(SEED),
        # One worker: hypothesis describes filters with ast.parse, which CPython 3.11 cannot run in two
        # threads at once ("AST constructor recursion depth mismatch"); the server still gets 2 workers.
        "--workers", "1",
        "--generation-database", "none", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report), *args,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks", "PYTHONPATH": str(REPO)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # Its own directory: schemathesis keeps a cache in the working directory.
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=400,
                            check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-30000:] + "\n--- server log ---\n" + server.log_text()[-5000:]
    parsed: dict[str, Any] = json.loads(report.read_text("utf-8"))
    assert parsed["complete"] and parsed["stop_reason"] == "completed", output[-5000:]
    assert parsed["test_cases"]["with_failures"] == 0 and not parsed["failures"], output[-30000:]
    assert not parsed["errors"], output[-30000:]
    print(f"\nschemathesis {label}: {parsed['operations']['tested']} "
          f"operations, {parsed['test_cases']['generated']} test cases, 0 failures, "
          f"{parsed['running_time']:.0f} s")
    return parsed


def fuzz_requests(server: Server, after: int = 0) -> Counter[tuple[str, str, str]]:
    """Count schemathesis's requests per (spec path, method, status), from the server's access log.

    The access log sees every request, those whose path matches no route (a feed id that is not a
    number) included; ``after`` is the log's length in characters when the run began.
    """
    patterns = [(re.compile(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path))), path)
                for path in spec()["paths"]]
    counts: Counter[tuple[str, str, str]] = Counter()
    for match in ACCESS_LINE.finditer(server.log_text()[after:]):
        method, target, status = match.group("method"), match.group("target"), match.group("status")
        path = target.split("?", 1)[0]
        for pattern, spec_path in patterns:
            if pattern.fullmatch(path):
                counts[(spec_path, method.lower(), status)] += 1
                break
    return counts


def spec_operations() -> set[tuple[str, str]]:
    return {(path, method) for path, item in spec()["paths"].items() for method in item if method in METHODS}


def test_every_operation_holds_to_the_spec_with_the_token(server: Server, tmp_path: Path) -> None:
    began = len(server.log_text())
    report = schemathesis(server, tmp_path, "with the token", "--header", f"Authorization: Bearer {TOKEN}")
    operations = spec_operations()
    assert report["operations"]["selected"] == report["operations"]["tested"] == len(operations) == 31
    assert report["operations"]["skipped"] == report["operations"]["errored"] == 0
    counts = fuzz_requests(server, began)
    per_operation: Counter[tuple[str, str]] = Counter()
    for (path, method, status), n in counts.items():
        per_operation[(path, method)] += n
        assert not status.startswith("5"), (path, method, status)
    for operation in sorted(operations):
        least = 1 if operation in NO_INPUT else EXAMPLES
        assert per_operation[operation] >= least, (operation, per_operation[operation])
    print(f"requests per operation: {min(per_operation[o] for o in operations - NO_INPUT)} at least "
          f"(of those with inputs), {sum(per_operation.values())} in all")


def test_write_endpoints_hold_to_the_spec_without_a_token(server: Server, tmp_path: Path) -> None:
    began = len(server.log_text())
    report = schemathesis(server, tmp_path, "without a token", "--include-tag", "write", "--include-tag",
                          "feeds", "--include-tag", "alerts")
    writes = {(p, m) for p, m in spec_operations()
              if "bearerAuth" in str(spec()["paths"][p][m].get("security", ""))}
    assert report["operations"]["tested"] == len(writes) == 12
    statuses: Counter[str] = Counter()
    for (path, method, status), n in fuzz_requests(server, began).items():
        if (path, method) in writes:
            statuses[status] += n
    # Without the token nothing gets past the check: no 2xx, no 5xx; 401 unless the path itself is wrong.
    assert not any(code.startswith(("2", "5")) for code in statuses), statuses
    assert statuses["401"] >= EXAMPLES * len(writes), statuses
