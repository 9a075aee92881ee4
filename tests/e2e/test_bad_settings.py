"""End to end: a real gunicorn given a bad FEEDSIFT_* value stops at once, with one line naming the
variable, no traceback, and nothing left behind (no metrics directory in its TMPDIR)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.gunicorn import BIN, free_port
from tests.support.paths import REPO


@pytest.mark.parametrize(("variable", "value", "shown"), [
    ("FEEDSIFT_API_TOKEN", "short", "FEEDSIFT_API_TOKEN=(hidden): must be at least 16 characters"),
    ("FEEDSIFT_REOPEN_INTERVAL", "soon", "FEEDSIFT_REOPEN_INTERVAL='soon': must be a number of seconds"),
])
def test_a_bad_setting_stops_gunicorn_with_one_line(tmp_path: Path, variable: str, value: str,
                                                    shown: str) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k != "PROMETHEUS_MULTIPROC_DIR" and not k.startswith("FEEDSIFT_")}
    env.update({variable: value, "TMPDIR": str(tmp), "FEEDSIFT_INDEX_DIR": str(tmp_path / "index")})
    result = subprocess.run(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}",
         "--no-control-socket", "service.app:create_app()"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"feedsift: {shown}"), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert list(tmp.iterdir()) == []
    assert not (tmp_path / "index").exists()
