"""The HTML report in a real browser: Debian's headless chromium screenshots it and dumps its
DOM. Needs /usr/bin/chromium (`bash .ci/chromium-deps` installs it): skipped without it,
failed without it when `CI` is set."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from slawatch.report.render import render
from tests.unit.test_report_render import CHART_IDS, HOSTILE_HTML, sample_report

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1200, 2400)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: run `bash .ci/chromium-deps` (installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def _chromium(binary: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run chromium once with its own profile and HOME under `workdir`; 60 s at most."""
    profile = workdir / f"profile-{len(list(workdir.glob('profile-*')))}"
    env = {**os.environ, "HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir / ".config"),
           "XDG_CACHE_HOME": str(workdir / ".cache")}
    result = subprocess.run([str(binary), *FLAGS, f"--user-data-dir={profile}", *args], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report-2026-10.html"
    path.write_text(render(sample_report(), "html"), encoding="utf-8")
    return path


def test_screenshot_shows_more_than_a_blank_page(chromium: Path, report_file: Path, tmp_path: Path) -> None:
    """The report renders to a screenshot far larger (more detail) than a blank page's."""
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body></body></html>")
    _chromium(chromium, tmp_path, f"--screenshot={tmp_path / 'blank.png'}", blank.as_uri())
    shot = tmp_path / "shot.png"
    _chromium(chromium, tmp_path, f"--screenshot={shot}", report_file.as_uri())
    print(f"report screenshot: {shot}")
    assert shot.exists(), "chromium wrote no screenshot"
    assert _png_size(shot) == WINDOW
    blank_size, shot_size = (tmp_path / "blank.png").stat().st_size, shot.stat().st_size
    assert shot_size > 5 * blank_size and shot_size > 50_000, (shot_size, blank_size)
    shutil.copy(report_file, tmp_path / report_file.name)  # beside the screenshot, for a look


def test_dom_has_the_three_charts_with_a_size(chromium: Path, report_file: Path, tmp_path: Path) -> None:
    """In the browser's DOM: the three SVG charts with non-zero width and height, no script
    element, and the hostile label as text."""
    dom = _chromium(chromium, tmp_path, "--dump-dom", report_file.as_uri()).stdout
    for chart_id in CHART_IDS:
        tag = re.search(rf'<svg\b[^>]*\bid="{chart_id}"[^>]*>', dom)
        assert tag, f"{chart_id} not in the DOM"
        width = re.search(r'\bwidth="(\d+(?:\.\d+)?)"', tag.group(0))
        height = re.search(r'\bheight="(\d+(?:\.\d+)?)"', tag.group(0))
        assert width and float(width.group(1)) > 0, tag.group(0)
        assert height and float(height.group(1)) > 0, tag.group(0)
    assert "<script" not in dom.lower()
    assert HOSTILE_HTML in dom
