"""The web demo in a real headless browser (Debian's Chromium, driven by Selenium): a real photo
uploaded, the depth and the 3D view rendered, downloads served, bad uploads reported on the page."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_PHOTOS = os.path.join(ROOT, "..", "shared", "data", "real_indoor")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER), reason="Chromium and ChromeDriver are not installed (.ci/run installs them)"
    ),
    pytest.mark.skipif(not os.path.isdir(REAL_PHOTOS), reason=f"the shared test data is absent ({REAL_PHOTOS})"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """rsn-demo with confidence, listening on loopback only; stopped at the end.

    The model is a tiny untrained one, or $RSN_DEMO_MODEL (the README's screenshot is taken with
    the demo's trained run dir: RSN_DEMO_MODEL=runs/rsn).
    """
    from rsn_tf.models import RegionSupportNetwork, get_preset

    path = os.environ.get("RSN_DEMO_MODEL")
    if not path:
        model = RegionSupportNetwork(get_preset("tiny", height=48, width=64))
        model.build()
        path = str(tmp_path_factory.mktemp("demo") / "tiny.keras")
        model.save(path)
    port = _free_port()
    log = open(tmp_path_factory.mktemp("log") / "demo.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "rsn_tf.cli.demo", f"--model={path}", f"--port={port}", "--confidence",
         "--max_bytes=2000000"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                log.seek(0)
                pytest.fail(f"rsn-demo did not start:\n{log.read()}")
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1500,860",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _upload(browser, path: str, timeout: float = 120) -> str:
    """Choose a file in the page and wait until the page reports a result or an error."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    message = browser.find_element(By.ID, "message")
    browser.execute_script("arguments[0].dataset.state = 'idle'", message)
    browser.find_element(By.ID, "file").send_keys(path)
    WebDriverWait(browser, timeout).until(lambda d: message.get_attribute("data-state") in ("done", "error"))
    return message.get_attribute("data-state")


_COUNT_COLOURS = """
const el = arguments[0];
const canvas = document.createElement('canvas');
canvas.width = el.naturalWidth || el.width; canvas.height = el.naturalHeight || el.height;
const ctx = canvas.getContext('2d');
ctx.drawImage(el, 0, 0);
const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
const colours = new Set(); let lit = 0;
for (let i = 0; i < data.length; i += 4) {
  const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
  colours.add(key);
  if (key !== 0x111111 && key !== 0) lit++;
}
return [canvas.width, canvas.height, colours.size, lit];
"""


def test_a_real_photo_renders_depth_confidence_and_a_point_cloud(server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    photo = os.path.join(REAL_PHOTOS, sorted(f for f in os.listdir(REAL_PHOTOS) if f.endswith(".png"))[0])
    browser.get(server)
    assert _upload(browser, os.path.abspath(photo)) == "done"
    message = browser.find_element(By.ID, "message").text
    assert "640x480" in message and "median depth" in message
    width, height, colours, lit = browser.execute_script(_COUNT_COLOURS, browser.find_element(By.ID, "depth"))
    assert (width, height) == (640, 480) and colours > 20 and lit > 0.9 * width * height  # a real depth map
    assert browser.find_element(By.ID, "confidence-panel").is_displayed()
    _, _, colours, _ = browser.execute_script(_COUNT_COLOURS, browser.find_element(By.ID, "confidence"))
    assert colours > 5
    cloud = browser.find_element(By.ID, "cloud")
    _, _, colours, lit = browser.execute_script(_COUNT_COLOURS, cloud)
    assert lit > 2000 and colours > 50  # the points of the 3D view, in the photo's colours
    before = cloud.screenshot_as_png
    ActionChains(browser).move_to_element(cloud).click_and_hold().move_by_offset(60, 20).release().perform()
    assert cloud.screenshot_as_png != before  # dragging rotates the view
    depth = browser.find_element(By.ID, "depth")
    ActionChains(browser).move_to_element(depth).perform()
    assert browser.find_element(By.ID, "readout").text.endswith(" m")
    # The downloads: a 16-bit PNG of the photo's size and a PLY with a point per pixel.
    png_url = browser.find_element(By.ID, "download-png").get_attribute("href")
    png = cv2.imdecode(np.frombuffer(urllib.request.urlopen(png_url).read(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (480, 640) and png.min() > 0
    ply = urllib.request.urlopen(browser.find_element(By.ID, "download-ply").get_attribute("href")).read()
    assert ply.startswith(b"ply\n") and b"element vertex 307200\n" in ply
    # The screenshot goes to the test's own dir (no test writes into the source tree), or where
    # $RSN_DEMO_SCREENSHOT says: docs/web_demo.png is this page with the trained demo model
    # (RSN_DEMO_MODEL=runs/rsn RSN_DEMO_SCREENSHOT=docs/web_demo.png).
    shot = os.environ.get("RSN_DEMO_SCREENSHOT") or str(tmp_path / "web_demo.png")
    assert browser.save_screenshot(shot) and os.path.getsize(shot) > 0


def test_bad_uploads_get_a_message_and_the_server_keeps_serving(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    assert _upload(browser, str(text)) == "error"
    assert "notes.jpg is not an image" in browser.find_element(By.ID, "message").text
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert _upload(browser, str(empty)) == "error"
    assert "empty.png is empty" in browser.find_element(By.ID, "message").text
    noise = np.random.default_rng(0).integers(0, 256, (900, 900, 3), dtype=np.uint8)
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), noise)
    assert big.stat().st_size > 2_000_000
    assert _upload(browser, str(big)) == "error"
    assert "larger than the limit" in browser.find_element(By.ID, "message").text
    small = tmp_path / "small.jpg"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(os.path.join(REAL_PHOTOS, "1_image.png")), (160, 120)))
    assert _upload(browser, str(small)) == "done"  # still serving
    assert "160x120" in browser.find_element(By.ID, "message").text
