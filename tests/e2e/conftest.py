"""A real Watchword (``watchword init`` + ``watchword serve`` under gunicorn) on a loopback port,
and Debian's chromium driven by Playwright. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("WATCHWORD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    data_dir: Path
    admin_upn: str
    admin_one_time_password: str
    env: dict

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "watchword.cli", *args], env=self.env, input=input,
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="session")
def server():
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-e2e-"))
    env = {**os.environ, "WATCHWORD_DATA_DIR": str(data_dir), "WATCHWORD_ORGANISATION": "Contoso"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    port = free_port()
    env["WATCHWORD_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    init = subprocess.run([sys.executable, "-m", "watchword.cli", "init", "--admin", "admin@contoso.example",
                           "--admin-name", "Megan Bowen"], env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    match = re.search(r"One-time password:\s+(\S+)", init.stdout)
    assert match, init.stdout
    log = open(data_dir / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "watchword.cli", "serve", "--bind", f"127.0.0.1:{port}",
                             "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError((data_dir / "serve.log").read_text())
            time.sleep(0.2)
    else:
        proc.terminate()
        raise AssertionError("watchword serve did not start in 30 s")
    yield Server(url=f"http://127.0.0.1:{port}", data_dir=data_dir, admin_upn="admin@contoso.example",
                 admin_one_time_password=match.group(1), env=env)
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed; scripts/test installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Shots:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="session", autouse=True)
def fresh_screenshots():
    """Each run's screenshots only: none left over from an earlier run."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def shots(request):
    return Shots(request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))


ADMIN_PASSWORD = "correct horse battery staple 42"


def sign_in_admin(page, server, shots=None) -> None:
    """Sign the first admin in; the first time in a run, change the one-time password."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/signin")
    page.get_by_label("Email or sign-in name", exact=True).fill(server.admin_upn)
    page.get_by_role("button", name="Next").click()
    first_time = not getattr(server, "admin_password_changed", False)
    page.get_by_label("Password", exact=True).fill(server.admin_one_time_password if first_time else ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if first_time:
        expect(page.get_by_role("heading", name="Update your password")).to_be_visible()
        if shots:
            shots(page, "admin-update-password")
        page.get_by_label("New password", exact=True).fill(ADMIN_PASSWORD)
        page.get_by_label("Confirm password", exact=True).fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        server.admin_password_changed = True
    expect(page.get_by_role("heading", name="My account")).to_be_visible()


@pytest.fixture
def admin_page(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    sign_in_admin(page, server)
    yield page
    context.close()


@dataclass
class Deployment:
    """Where a journey runs: ``signin_url`` is the node people's browsers use; ``server`` the one
    whose first admin signs in (the same node)."""

    name: str
    server: Server
    signin_url: str
    device_url: str  # where devices are sent to listen (the public URL)

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return self.server.cli(*args, input=input)


@pytest.fixture(params=["embedded", "two-node"])
def deployment(request, tmp_path_factory):
    """The embedded default (the session's server), or two ``serve`` nodes sharing a PostgreSQL
    database of their own and Redis: people's browsers use node 2, while the public URL (so the
    address devices are given) is node 1's, so a device listens on node 1 while the sign-in
    happens on node 2."""
    if request.param == "embedded":
        server = request.getfixturevalue("server")
        yield Deployment(name="embedded", server=server, signin_url=server.url, device_url=server.url)
        return
    from tests.serving import postgres_database, start_server, two_node_env

    folder = tmp_path_factory.mktemp("two-node")
    with postgres_database("watchword_e2e") as database_url:
        shared = {**two_node_env(database_url), "WATCHWORD_ORGANISATION": "Contoso"}
        node_1 = start_server(folder / "node-1", env_extra=shared)
        node_2 = None
        try:
            # One installation on two machines: the same sealing keyring (and secret key).
            shutil.copytree(node_1.data_dir / "keys", folder / "node-2" / "keys")
            node_2 = start_server(folder / "node-2", init=False,
                                  env_extra={**shared, "WATCHWORD_PUBLIC_URL": node_1.url})
            for _ in range(100):  # each front subscribes to Redis just after it starts
                if all("listening for messages on Redis" in n.log() for n in (node_1, node_2)):
                    break
                time.sleep(0.1)
            admin = Server(url=node_2.url, data_dir=node_2.data_dir, admin_upn="admin@contoso.example",
                           admin_one_time_password=node_1.admin_one_time_password, env=node_2.env)
            yield Deployment(name="two-node", server=admin, signin_url=node_2.url, device_url=node_1.url)
        finally:
            for node in (node_2, node_1):
                if node is not None:
                    node.stop()
