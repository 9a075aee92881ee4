"""Tests for index/settings.py: every FEEDSIFT_* variable parsed, defaulted and refused by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from index.settings import ConfigError, Settings
from service.app import create_app
from service.engine import current_engine
from service.spec_api import OPENAPI_PATH
from tests.support.paths import REPO


def test_defaults() -> None:
    assert Settings.from_env({}) == Settings(index_dir=Path("var/index"), reopen_interval=0.5)


def test_every_variable_is_read() -> None:
    settings = Settings.from_env({"FEEDSIFT_INDEX_DIR": "/srv/index", "FEEDSIFT_REOPEN_INTERVAL": "2"})
    assert settings == Settings(index_dir=Path("/srv/index"), reopen_interval=2.0)


def test_the_write_api_and_fetch_variables_are_read() -> None:
    settings = Settings.from_env({
        "FEEDSIFT_API_TOKEN": "0123456789abcdef0123456789abcdef", "FEEDSIFT_MAX_BODY_BYTES": "2048",
        "FEEDSIFT_ALLOW_PRIVATE_FEEDS": "Yes", "FEEDSIFT_FETCH_TIMEOUT": "2.5",
        "FEEDSIFT_FETCH_MAX_BYTES": "1000",
    })
    assert settings == Settings(api_token="0123456789abcdef0123456789abcdef", max_body_bytes=2048,
                                allow_private_feeds=True, fetch_timeout=2.5, fetch_max_bytes=1000)
    assert Settings.from_env({"FEEDSIFT_ALLOW_PRIVATE_FEEDS": "0"}).allow_private_feeds is False
    assert Settings().api_token == ""


def test_a_bad_token_is_refused_without_being_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FEEDSIFT_API_TOKEN": "secret!value"})
    assert str(caught.value).startswith("FEEDSIFT_API_TOKEN=(hidden): ")
    assert "secret" not in str(caught.value)


def test_empty_values_keep_the_default() -> None:
    assert Settings.from_env({"FEEDSIFT_INDEX_DIR": " ", "FEEDSIFT_REOPEN_INTERVAL": ""}) == Settings()


def test_other_variables_are_ignored() -> None:
    assert Settings.from_env({"FEEDSIFT_BIND": "0.0.0.0:1", "PATH": "/bin"}) == Settings()


@pytest.mark.parametrize(("name", "value"), [
    ("FEEDSIFT_REOPEN_INTERVAL", "soon"),
    ("FEEDSIFT_REOPEN_INTERVAL", "-1"),
    ("FEEDSIFT_REOPEN_INTERVAL", "nan"),
    ("FEEDSIFT_REOPEN_INTERVAL", "1e9"),
    ("FEEDSIFT_API_TOKEN", "too-short"),
    ("FEEDSIFT_API_TOKEN", "has spaces in the middle of it"),
    ("FEEDSIFT_API_TOKEN", "caf\u00e9-caf\u00e9-caf\u00e9-caf\u00e9"),
    ("FEEDSIFT_MAX_BODY_BYTES", "1MiB"),
    ("FEEDSIFT_MAX_BODY_BYTES", "0"),
    ("FEEDSIFT_ALLOW_PRIVATE_FEEDS", "maybe"),
    ("FEEDSIFT_FETCH_TIMEOUT", "0"),
    ("FEEDSIFT_FETCH_TIMEOUT", "ten"),
    ("FEEDSIFT_FETCH_MAX_BYTES", "-5"),
    ("FEEDSIFT_ENGINE", "elasticsearch"),
    ("FEEDSIFT_TYPESENSE_NODES", "ts1:8108"),
    ("FEEDSIFT_TYPESENSE_NODES", "http://ts1:8108/collections"),
    ("FEEDSIFT_TYPESENSE_NODES", "http://ts1"),
])
def test_bad_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}="):
        Settings.from_env({name: value})


def test_the_engine_variables_are_read() -> None:
    settings = Settings.from_env({
        "FEEDSIFT_ENGINE": "Typesense", "FEEDSIFT_TYPESENSE_API_KEY": "key-4711",
        "FEEDSIFT_TYPESENSE_NODES": "http://10.0.0.1:8108, https://ts2.example.org:443/,http://[::1]:8108",
    })
    assert settings.engine == "typesense"
    assert settings.typesense_nodes == ("http://10.0.0.1:8108", "https://ts2.example.org:443",
                                        "http://[::1]:8108")
    assert settings.typesense_api_key == "key-4711"
    assert "key-4711" not in repr(settings)
    assert Settings().engine == "whoosh"


@pytest.mark.parametrize(("environ", "missing"), [
    ({}, "FEEDSIFT_TYPESENSE_NODES and FEEDSIFT_TYPESENSE_API_KEY"),
    ({"FEEDSIFT_TYPESENSE_NODES": "http://127.0.0.1:8108"}, "FEEDSIFT_TYPESENSE_API_KEY"),
    ({"FEEDSIFT_TYPESENSE_API_KEY": "key-4711"}, "FEEDSIFT_TYPESENSE_NODES"),
])
def test_typesense_needs_nodes_and_a_key(environ: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FEEDSIFT_ENGINE": "typesense", **environ})
    assert str(caught.value) == f"FEEDSIFT_ENGINE=typesense needs {missing}"
    assert "key-4711" not in str(caught.value)


def test_a_bad_typesense_key_is_refused_without_being_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FEEDSIFT_TYPESENSE_API_KEY": "secret key"})
    assert str(caught.value).startswith("FEEDSIFT_TYPESENSE_API_KEY=(hidden): ")
    assert "secret" not in str(caught.value)


def test_every_field_has_a_feedsift_variable_and_a_description() -> None:
    names = [name for name, _, _ in Settings.variables()]
    assert len(names) == len(dataclasses.fields(Settings)) == len(set(names))
    assert all(name.startswith("FEEDSIFT_") for name in names)
    assert all(help_text for _, _, help_text in Settings.variables())


def test_create_app_reads_the_environment_only_without_settings(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FEEDSIFT_REOPEN_INTERVAL", "never")
    with pytest.raises(ConfigError, match="FEEDSIFT_REOPEN_INTERVAL"):
        create_app()
    app = create_app(Settings(index_dir=tmp_path))
    current_engine(app).close()
    monkeypatch.setenv("FEEDSIFT_REOPEN_INTERVAL", "3")
    monkeypatch.setenv("FEEDSIFT_INDEX_DIR", str(tmp_path))
    app = create_app()
    assert app.config["FEEDSIFT_SETTINGS"] == Settings(index_dir=tmp_path, reopen_interval=3.0)
    current_engine(app).close()


def test_the_packaged_spec_is_the_repository_spec() -> None:
    # service/openapi.yaml links to the root file, so an installed package carries the same spec.
    assert OPENAPI_PATH.read_bytes() == (REPO / "openapi.yaml").read_bytes()
    assert (REPO / "service" / "openapi.yaml").resolve() == (REPO / "openapi.yaml").resolve()
