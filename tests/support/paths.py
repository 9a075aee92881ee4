"""Where the tests find data: the project's samples and the shared data beside the repository."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
SHARED_DATA = REPO.parent / "shared" / "data"
DIGEST = SHARED_DATA / "digests" / "000_4b6eea86ccf07e00.txt"
FEEDS = sorted((SHARED_DATA / "feeds").glob("*/*.xml"))
