"""The README's screenshots of the demo page and of ``report.html``, from an ``emollm demo`` folder.

Runs what the README documents: ``emollm serve`` on the demo's trained model, the page at ``/`` with
one of the demo's test images dropped in, and the ``report.html`` the demo's ``emollm report`` wrote;
each is opened in headless Chromium (the tests' set-up, ``tests/apps/browser.py``) and saved as a
small PNG in this folder.

Run: ``.venv/bin/python docs/img/make_screenshots.py emollm_demo``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.apps.browser import chromium, save_small  # noqa: E402


def newest(pattern: str, root: Path) -> Path:
    found = sorted(root.glob(pattern), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"{root}: nothing matches {pattern}; run `emollm demo --out {root}` first")
    return found[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def page_screenshot(model: Path, image: Path, out: Path) -> Path:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    port = free_port()
    command = [str(REPO / ".venv" / "bin" / "emollm"), "serve", "--model-path", str(model), "--port", str(port),
               "--num-frames", "2", "--model-name", "emollm-demo"]
    print("$", " ".join(command), flush=True)
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        with chromium(width=1180, height=800) as page:
            deadline = time.time() + 300
            while True:
                try:
                    page.get(f"http://127.0.0.1:{port}/")
                    break
                except Exception:
                    if server.poll() is not None or time.time() > deadline:
                        raise SystemExit("emollm serve did not come up") from None
                    time.sleep(1)
            wait = WebDriverWait(page, 120)
            wait.until(lambda p: "model:" in p.find_element(By.ID, "model").text
                       and p.find_elements(By.CSS_SELECTOR, "#task option"))
            Select(page.find_element(By.ID, "task")).select_by_value("emo_c")
            page.find_element(By.ID, "file").send_keys(str(image))
            wait.until(lambda p: p.find_element(By.ID, "ask").is_enabled())
            page.find_element(By.ID, "ask").click()
            wait.until(lambda p: p.find_element(By.ID, "result").is_displayed())
            return save_small(page.get_screenshot_as_png(), out / "demo_page.png")
    finally:
        server.terminate()
        server.wait(timeout=30)


def report_screenshots(report: Path, out: Path) -> list[Path]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with chromium(width=1180, height=900) as page:
        page.get(report.as_uri())
        top = save_small(page.get_screenshot_as_png(), out / "report_top.png")
        Select(page.find_element(By.ID, "filter-task")).select_by_value("emo_c")
        page.execute_script("document.querySelector('.filters').scrollIntoView()")
        samples = save_small(page.get_screenshot_as_png(), out / "report_samples.png")
    return [top, samples]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, nargs="?", default=Path("emollm_demo"), help="an `emollm demo` --out folder")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="where the PNGs go")
    args = parser.parse_args(argv)
    stages = args.demo / "stages"
    model = newest("train-emotional-*/model", stages)
    emobench = newest("emobench-*", stages)
    image = sorted((emobench / "media" / "synth" / "test" / "emo_c").glob("*.png"))[0]
    written = [page_screenshot(model, image, args.out), *report_screenshots(args.demo / "report" / "report.html",
                                                                            args.out)]
    for path in written:
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
