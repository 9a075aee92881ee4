"""Settings: one typed field per ``FEEDSIFT_*`` variable, read and validated here for the CLI and the API.

Nothing else in the project reads a ``FEEDSIFT_*`` variable (tests/test_layering.py keeps it so).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from limits import parse_many

from index.errors import FeedsiftError
from index.feeds.fetch import FETCH_MAX_BYTES, FETCH_TIMEOUT, FetchOptions
from index.search.batch import CommitWatcher
from index.search.engine import ENGINES, Engine, open_engine

# An origin as browsers send it: scheme, host and an optional port, nothing after.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
# Long enough that guessing is hopeless even without rate limits; `openssl rand -hex 32` gives 64.
MIN_TOKEN_CHARS = 16
# A Typesense node as the client takes it: scheme, host and port, nothing after.
_NODE = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}")


class ConfigError(FeedsiftError, ValueError):
    """A ``FEEDSIFT_*`` variable holds a value feedsift cannot use; the message names the variable."""


def _path(text: str) -> Path:
    if not text.strip():
        raise ValueError("must not be empty")
    return Path(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number of seconds, such as 0.5") from None
    if not math.isfinite(value) or value < 0 or value > 3600:
        raise ValueError("must be between 0 and 3600 seconds")
    return value


def _origins(text: str) -> tuple[str, ...]:
    origins = tuple(part.strip().rstrip("/") for part in text.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(f"{origin!r} is not an origin such as https://app.example.org or * (no path)")
    return origins


def _token(text: str) -> str:
    # RFC 6750's b64token characters, so the token fits an Authorization header as it stands.
    if not _TOKEN.fullmatch(text):
        raise ValueError("may hold only letters, digits and - . _ ~ + / (and = at the end)")
    if len(text) < MIN_TOKEN_CHARS:
        raise ValueError(f"must be at least {MIN_TOKEN_CHARS} characters long (try `openssl rand -hex 32`)")
    return text


def _flag(text: str) -> bool:
    value = text.lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise ValueError("must be 1, true or yes (or 0, false or no)")


def _bytes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("must be a whole number of bytes, such as 1048576") from None
    if value < 1:
        raise ValueError("must be at least 1 byte")
    return value


def _timeout(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise ValueError("must be more than 0 seconds")
    return value


def _rate(text: str) -> str:
    # Flask-Limiter's notation, checked here so that a typo stops the start rather than the first request.
    try:
        rates = parse_many(text)
    except ValueError:
        raise ValueError("must be a rate such as 100/minute, or several joined by ; (10/second;1000/hour)") \
            from None
    if any(rate.amount < 1 for rate in rates):
        raise ValueError("must allow at least 1 request per period")
    return text


def _engine(text: str) -> str:
    value = text.lower()
    if value not in ENGINES:
        raise ValueError(f"must be one of {', '.join(ENGINES)}")
    return value


def _nodes(text: str) -> tuple[str, ...]:
    nodes = tuple(part.strip().rstrip("/") for part in text.split(",") if part.strip())
    for node in nodes:
        if not _NODE.fullmatch(node):
            raise ValueError(f"{node!r} is not a node URL such as http://10.0.0.1:8108 (no path)")
    return nodes


def _api_key(text: str) -> str:
    if any(ch.isspace() for ch in text):
        raise ValueError("must not contain spaces")
    return text


def _setting(env: str, parse: Callable[[str], Any], help_text: str, default: Any, *,
             shown: str | None = None, secret: bool = False) -> Any:
    # ``shown`` is the default as the README's table spells it, where str(default) would read oddly.
    # A ``secret`` value is left out of the settings' repr and of every error message about it.
    metadata = {"env": env, "parse": parse, "help": help_text, "shown": shown, "secret": secret}
    return field(default=default, metadata=metadata, repr=not secret)


@dataclass(frozen=True)
class Settings:
    """How feedsift runs. Tests build one; ``create_app()`` and the CLI without one read the environment."""

    index_dir: Path = _setting(
        "FEEDSIFT_INDEX_DIR", _path,
        "Directory of the index the API serves (the one `feedsift add --index` writes).",
        Path("./var/index"),
    )
    reopen_interval: float = _setting(
        "FEEDSIFT_REOPEN_INTERVAL", _seconds,
        "Seconds between full checks for a newer index; a finished write is seen at once through the "
        "index's changed stamp, and this bounds how soon a running write's commits are.",
        0.5,
    )
    api_token: str = _setting(
        "FEEDSIFT_API_TOKEN", _token,
        "Bearer token the write API (`/v1/feeds`, `/v1/alerts`, `POST` and `DELETE /v1/items`) requires; "
        "unset, those endpoints answer 403. At least 16 characters (`openssl rand -hex 32`).",
        "", shown="(none)", secret=True,
    )
    max_body_bytes: int = _setting(
        "FEEDSIFT_MAX_BODY_BYTES", _bytes,
        "Largest request body accepted, in bytes; a bigger one is refused with a 413.",
        1024 * 1024,
    )
    allow_private_feeds: bool = _setting(
        "FEEDSIFT_ALLOW_PRIVATE_FEEDS", _flag,
        "`1`, `true` or `yes` lets feeds be fetched from loopback and private addresses (`feedsift poll` "
        "and `add URL` read it too).",
        False, shown="0",
    )
    allow_private_webhooks: bool = _setting(
        "FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS", _flag,
        "`1`, `true` or `yes` lets alerts' webhooks be on loopback and private addresses (`feedsift "
        "alerts` and the poll worker, which delivers, read it too).",
        False, shown="0",
    )
    fetch_timeout: float = _setting(
        "FEEDSIFT_FETCH_TIMEOUT", _timeout,
        "Seconds allowed for each phase of a feed fetch: connect, headers, body (`feedsift poll "
        "--timeout`).",
        FETCH_TIMEOUT, shown=f"{FETCH_TIMEOUT:g}",
    )
    fetch_max_bytes: int = _setting(
        "FEEDSIFT_FETCH_MAX_BYTES", _bytes,
        "Largest feed body accepted, before and after decompression (`feedsift poll --max-bytes`).",
        FETCH_MAX_BYTES,
    )
    cors_origins: tuple[str, ...] = _setting(
        "FEEDSIFT_CORS_ORIGINS", _origins,
        "Comma-separated origins (`https://app.example.org`) whose pages may call the API from a browser, "
        "or `*` for any, reads and writes with `Authorization: Bearer`; unset sends no CORS headers.",
        (), shown="(none)",
    )
    rate_limit: str = _setting(
        "FEEDSIFT_RATE_LIMIT", _rate,
        "Requests each client address may make, such as `100/minute` (`;` joins several: "
        "`10/second;1000/hour`); more are answered 429 with `Retry-After`. Counted in memory by each "
        "gunicorn worker, so a client may get up to this many per worker. Unset: no limit. Health "
        "checks and `/metrics` are never limited.",
        "", shown="(none)",
    )
    engine: str = _setting(
        "FEEDSIFT_ENGINE", _engine,
        "Search engine holding the items: `whoosh` (embedded, in `FEEDSIFT_INDEX_DIR`) or `typesense` "
        "(servers listed in `FEEDSIFT_TYPESENSE_NODES`; see \"Running on a cluster\").",
        "whoosh",
    )
    typesense_nodes: tuple[str, ...] = _setting(
        "FEEDSIFT_TYPESENSE_NODES", _nodes,
        "Comma-separated Typesense node URLs (`http://10.0.0.1:8108,http://10.0.0.2:8108`); required "
        "with `FEEDSIFT_ENGINE=typesense`.",
        (), shown="(none)",
    )
    typesense_api_key: str = _setting(
        "FEEDSIFT_TYPESENSE_API_KEY", _api_key,
        "API key of the Typesense nodes; required with `FEEDSIFT_ENGINE=typesense`; never logged.",
        "", shown="(none)", secret=True,
    )

    def __post_init__(self) -> None:
        if self.engine == "typesense" and not (self.typesense_nodes and self.typesense_api_key):
            missing = [name for name, value in (("FEEDSIFT_TYPESENSE_NODES", self.typesense_nodes),
                                                ("FEEDSIFT_TYPESENSE_API_KEY", self.typesense_api_key))
                       if not value]
            raise ConfigError(f"FEEDSIFT_ENGINE=typesense needs {' and '.join(missing)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Return settings from ``environ`` (default ``os.environ``); raise ConfigError naming a bad variable.

        Unset or empty variables keep their defaults.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f.metadata["env"]
            raw = env.get(name, "")
            if not raw.strip():
                continue
            try:
                values[f.name] = f.metadata["parse"](raw.strip())
            except ValueError as exc:
                shown = "(hidden)" if f.metadata.get("secret") else repr(raw)
                raise ConfigError(f"{name}={shown}: {exc}") from None
        return cls(**values)

    @classmethod
    def variables(cls) -> list[tuple[str, str, str]]:
        """Return (variable, default, description) for every setting, as the README's table lists them."""
        return [
            (f.metadata["env"], str(f.default) if f.metadata.get("shown") is None else f.metadata["shown"],
             f.metadata["help"])
            for f in dataclasses.fields(cls)
        ]

    def open_engine(self, index_dir: str | os.PathLike[str] | None = None, *,
                    lock_timeout: float | None = None, watcher: CommitWatcher | None = None) -> Engine:
        """Return the engine these settings choose, unopened (Whoosh in ``index_dir``, else the settings').

        A ``watcher`` (index.alerts.AlertWatcher) hears of every commit that adds or changes items.
        """
        return open_engine(
            self.engine, index_dir=self.index_dir if index_dir is None else index_dir,
            nodes=self.typesense_nodes, api_key=self.typesense_api_key,
            reopen_interval=self.reopen_interval, lock_timeout=lock_timeout, watcher=watcher,
        )

    def fetch_options(self) -> FetchOptions:
        """Return the limits and address policy every fetch of a feed or an input URL uses."""
        return FetchOptions(timeout=self.fetch_timeout, max_bytes=self.fetch_max_bytes,
                            allow_private=self.allow_private_feeds)
