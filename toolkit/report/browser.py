"""Look at the HTML report in a real browser: headless Chromium measures where the first screen's
parts land and saves the whole page, full height, as a PNG.

`python -m toolkit.report.browser REPORT.html OUT.png` saves one page (`nox -s report_browser`).
The report itself carries no script: a measuring copy of the page gets one, which writes the
positions into the DOM that `--dump-dom` prints.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import EXIT_OK, EXIT_UNUSABLE, ToolkitError

log = logging.getLogger(__name__)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
WIDTH = 1280
FIRST_SCREEN = 1000  # px: what a reviewer sees without scrolling
MAX_HEIGHT = 16_000  # px: Chromium's screenshots get unreliable beyond this
TIMEOUT_S = 120
MEASURED_ID = "engram-measured"
# What the first screen must show: the verdict, the stage strip, the first failure.
PROBES = {
    "verdict": "#verdict",
    "stages": "#stages",
    "first_failure": "#failing li",
    "matrix": "#matrix-picture svg",
}
_SCRIPT = """<script>
window.addEventListener("load", () => {
  const probes = %s;
  const found = {height: document.documentElement.scrollHeight};
  for (const [name, selector] of Object.entries(probes)) {
    const element = document.querySelector(selector);
    found[name] = element ? element.getBoundingClientRect().top + window.scrollY : null;
  }
  const out = document.createElement("pre");
  out.id = "%s";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""


class BrowserError(ToolkitError):
    """Chromium is missing, or it could not render the page."""


@dataclass(frozen=True)
class Positions:
    """Distances from the top of the page in CSS pixels (None: the element is not there)."""

    height: float
    tops: dict[str, float | None]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(chromium: str, work: Path, *arguments: str) -> str:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "XDG_CACHE_HOME": str(home),
    }
    command = [chromium, *FLAGS, f"--user-data-dir={work / 'profile'}", *arguments]
    log.debug("running %s", " ".join(command))
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BrowserError(f"chromium did not finish within {TIMEOUT_S} s") from exc
    if completed.returncode != 0:
        raise BrowserError(
            f"chromium exited {completed.returncode}: {completed.stderr.strip()[-400:]}"
        )
    return completed.stdout


def measure(html: str, chromium: str, work: Path, width: int = WIDTH) -> Positions:
    """Where the verdict, the stage strip, the first failure and the matrix land in `html`."""
    script = _SCRIPT % (json.dumps(PROBES), MEASURED_ID)
    page = work / "measured.html"
    page.write_text(html.replace("</body>", f"{script}\n</body>", 1), encoding="utf-8")
    dom = _run(
        chromium,
        work,
        f"--window-size={width},{FIRST_SCREEN}",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    )
    found = re.search(rf'<pre id="{MEASURED_ID}">(.*?)</pre>', dom, re.S)
    if found is None:
        raise BrowserError("chromium rendered the page but the measuring script did not run")
    data = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    height = float(data.pop("height"))
    return Positions(height, {name: data.get(name) for name in PROBES})


def screenshot(html_file: Path, png: Path, chromium: str, width: int = WIDTH) -> Positions:
    """Save the whole page, full height, as `png`; returns where its first-screen parts are."""
    with tempfile.TemporaryDirectory(prefix="engram-browser-") as tmp:
        work = Path(tmp)
        positions = measure(html_file.read_text(encoding="utf-8"), chromium, work, width)
        height = min(MAX_HEIGHT, max(FIRST_SCREEN, round(positions.height)))
        png.parent.mkdir(parents=True, exist_ok=True)
        _run(
            chromium,
            work,
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            html_file.resolve().as_uri(),
        )
    if not png.exists():
        raise BrowserError(f"chromium did not write {png}")
    return positions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.report.browser",
        description="Save the whole HTML report, full height, as a PNG (headless Chromium).",
    )
    parser.add_argument("html", type=Path, help="the HTML report")
    parser.add_argument("png", type=Path, help="where to save the picture")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    try:
        if chromium is None:
            raise BrowserError("chromium is not installed: `apt-get install chromium`")
        if not args.html.is_file():
            raise BrowserError(f"{args.html} is missing: render the report first")
        positions = screenshot(args.html, args.png, chromium)
    except ToolkitError as exc:
        print(f"report_browser: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    tops = ", ".join(
        f"{name} at {top:.0f} px" if top is not None else f"no {name}"
        for name, top in positions.tops.items()
    )
    print(f"saved {args.png} ({positions.height:.0f} px tall; {tops})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
