"""Does the password step take as long for an unknown name as for a known one?

    .venv/bin/python bench/enumeration.py [--attempts N]

Calls the WSGI application in one process (no HTTP server, so network noise does not hide a
difference), alternating wrong passwords for a real person and for a name that does not exist,
and prints both timings and their ratio. Throttling is raised out of the way for the run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH / "experiments"))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=200, help="wrong passwords per kind (default 200)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-enum-"))
    os.environ.update(WATCHWORD_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="watchword.settings",
                      WATCHWORD_LOG_LEVEL="WARNING", WATCHWORD_THROTTLE_PAIR_FREE="1000",
                      WATCHWORD_THROTTLE_IP_FREE="100000")
    try:
        subprocess.run([sys.executable, "-m", "watchword.cli", "init"], env=os.environ, check=True,
                       capture_output=True)
        subprocess.run([sys.executable, "-m", "watchword.cli", "user", "add", "adele.vance@contoso.example",
                        "--name", "Adele Vance", "--password-stdin"], input="Adele's long passphrase 7\n",
                       env=os.environ, check=True, capture_output=True, text=True)
        subprocess.run([sys.executable, "-m", "watchword.cli", "manage", "shell", "-c",
                        "from watchword.policy.services import current_settings; from watchword.policy.models "
                        "import PolicySettings; current_settings(); "
                        "PolicySettings.objects.filter(pk=1).update(lockout_threshold=1000)"],
                       env=os.environ, check=True, capture_output=True)  # smart lockout out of the way
        from wsgi_direct import Browser

        from watchword.wsgi import application

        def attempt(name: str) -> float:
            browser = Browser(application)
            _, page = browser.call("GET", "/signin")
            _, page = browser.call("POST", "/signin", {"csrfmiddlewaretoken": CSRF.search(page).group(1),
                                                       "name": name, "next": ""})
            token = CSRF.search(page).group(1)
            flow = re.search(r'name="flow" value="([^"]+)"', page).group(1)
            start = time.perf_counter()
            _, page = browser.call("POST", "/signin/password", {"csrfmiddlewaretoken": token, "flow": flow,
                                                                "password": "not the password"})
            elapsed = time.perf_counter() - start
            assert "Your account or password is incorrect" in page
            return elapsed * 1000

        for _ in range(10):
            attempt("adele.vance@contoso.example")
            attempt("nobody@contoso.example")
        known, unknown = [], []
        for index in range(args.attempts):
            known.append(attempt("adele.vance@contoso.example"))
            unknown.append(attempt(f"nobody{index}@contoso.example"))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"Wrong password, {args.attempts} attempts each, alternating (ms for POST /signin/password):")
    print(f"  {'':<22} {'mean':>7} {'median':>7} {'p10':>7} {'p90':>7}")
    for label, values in (("existing person", known), ("name that doesn't exist", unknown)):
        deciles = statistics.quantiles(values, n=10)
        print(f"  {label:<22} {statistics.mean(values):7.2f} {statistics.median(values):7.2f} "
              f"{deciles[0]:7.2f} {deciles[-1]:7.2f}")
    ratio = statistics.median(unknown) / statistics.median(known)
    print(f"  median ratio unknown ÷ existing: {ratio:.3f}  (1.000 = indistinguishable)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
