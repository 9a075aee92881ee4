"""gunicorn settings for feedsift: workers from WEB_CONCURRENCY, threads, access log to stdout."""

import os
import shutil
import sys
import tempfile
import threading

import gunicorn.http.message

from index.settings import ConfigError, Settings

# A bad FEEDSIFT_* value stops the server here, before anything is made: one line naming the variable
# (the app would read the same settings later, and gunicorn turn the error into a long traceback).
try:
    Settings.from_env()
except ConfigError as exc:
    print(f"feedsift: {exc}", file=sys.stderr)
    sys.exit(2)

bind = os.environ.get("FEEDSIFT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, so a cheap request (/healthz, a lookup) is answered beside slow searches instead of queuing
# behind them: with sync workers two slow searches held both workers and /healthz waited for them.
# The searcher is shared by a worker's threads (index.search.whoosh.reader.SearchIndex is thread-safe).
worker_class = "gthread"
threads = 4  # per worker; `gunicorn --threads N` overrides it
timeout = 30
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
# Load the app once in the master so workers share its memory pages (MEASURED.md: 333 -> 102 MB private).
preload_app = True
# gunicorn 27 otherwise opens one control socket per user shared by every server on the machine.
control_socket_disable = True
# Every request line the spec allows must reach the app, which refuses what is too long with its own
# problem+json: 1,000 query characters of 4 UTF-8 bytes are 12,000 bytes percent-encoded, and 20
# `source` values of 200 such characters 48,000 more. gunicorn clamps any finite limit to its own
# MAX_REQUEST_LINE (8190 bytes), read when each request is parsed, so that cap is raised to match;
# 0 (no limit at all) would let one client buffer an endless line. A longer line gets gunicorn's 414.
REQUEST_LINE_BYTES = 65_536
gunicorn.http.message.MAX_REQUEST_LINE = max(gunicorn.http.message.MAX_REQUEST_LINE, REQUEST_LINE_BYTES)
limit_request_line = REQUEST_LINE_BYTES
# When every worker is busy, connections wait in the kernel's accept queue (this many, capped by
# net.core.somaxconn) rather than being refused or reset; a client waits longer but gets its answer.
backlog = 2048

# Metrics are counted per worker in files under PROMETHEUS_MULTIPROC_DIR and added up on every scrape
# (service/metrics.py), so it must be set here, in the master, before the app is loaded. Unless the
# operator chose a directory (one that is emptied at boot), each server start gets a fresh one.
_METRICS_DIR_IS_OURS = not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
if _METRICS_DIR_IS_OURS:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="feedsift-metrics-")


def child_exit(server, worker):
    """Forget a dead worker's live gauges; its counters stay, so totals never go backwards."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory made for this run."""
    if _METRICS_DIR_IS_OURS:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker):
    """Read the titles for suggestions and the spelling words for did-you-mean in the background as a
    worker starts (seconds and ~0.8 s at 100k items), so no request waits for them."""
    threading.Thread(target=_warm_up, args=(worker.wsgi,), name="warm-up", daemon=True).start()


def _warm_up(app):
    from index.errors import FeedsiftError
    from index.model import SearchRequest
    from service.engine import current_engine
    from service.suggest_api import warm_up

    warm_up(app)
    try:
        # A word no item holds: the search finds nothing, so did-you-mean reads the spelling words.
        current_engine(app).search(SearchRequest(q="qzxvkjq"))
    except FeedsiftError as exc:
        app.logger.info("did-you-mean not warmed up: %s", exc)
