"""Settings: one typed field per ``FEEDSIFT_*`` environment variable, read and validated in one place."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The spec is kept once, at the repository root; service/openapi.yaml is a symlink to it so that an
# installed package (package-data takes service/*.yaml, following the link) carries the same file.
OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.yaml"


class ConfigError(ValueError):
    """A ``FEEDSIFT_*`` variable holds a value the service cannot use; the message names the variable."""


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


def _setting(env: str, parse: Callable[[str], Any], help_text: str, default: Any) -> Any:
    return field(default=default, metadata={"env": env, "parse": parse, "help": help_text})


@dataclass(frozen=True)
class Settings:
    """How the service runs. Tests build one directly; ``create_app()`` without one reads the environment."""

    index_dir: Path = _setting(
        "FEEDSIFT_INDEX_DIR", _path,
        "Directory of the index the API serves (the one `feedsift add --index` writes).",
        Path("./var/index"),
    )
    reopen_interval: float = _setting(
        "FEEDSIFT_REOPEN_INTERVAL", _seconds,
        "Seconds between checks for a newer index; new items are searchable within this time "
        "plus one commit.",
        0.5,
    )

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
                raise ConfigError(f"{name}={raw!r}: {exc}") from None
        return cls(**values)

    @classmethod
    def variables(cls) -> list[tuple[str, str, str]]:
        """Return (variable, default, description) for every setting, as the README's table lists them."""
        return [
            (f.metadata["env"], str(f.default), f.metadata["help"])
            for f in dataclasses.fields(cls)
        ]
