"""Headless Chromium for the page tests: Debian's ``chromium`` and ``chromedriver``, driven by selenium.

``scripts/setup.sh`` installs both when it runs as root; a missing browser fails the test with
the install command instead of skipping it.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--hide-scrollbars")


def executables() -> tuple[str, str]:
    """Paths of chromium and chromedriver; the test fails (not skips) when they are missing."""
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(browser).is_file() and Path(driver).is_file()):
        pytest.fail("headless Chromium is missing: `apt-get install -y chromium chromium-driver` "
                    "(scripts/setup.sh does it when run as root)")
    return browser, driver


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator:
    """A headless Chromium session with a throwaway profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = executables()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        session = webdriver.Chrome(service=Service(driver), options=options)
        session.set_page_load_timeout(60)
        try:
            yield session
        finally:
            session.quit()


def ink(png: bytes, threshold: int = 110) -> int:
    """Dark pixels in a screenshot: text drawn on the page's light background."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        grey = image.convert("L")
        return sum(count for value, count in enumerate(grey.histogram()) if value < threshold)


def size_of(png: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.size


def save_small(png: bytes, path: Path, width: int = 1100) -> Path:
    """A screenshot as a compact PNG (palette colours, scaled to ``width``) for the docs."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        path.parent.mkdir(parents=True, exist_ok=True)
        image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path
