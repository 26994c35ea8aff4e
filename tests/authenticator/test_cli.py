"""The command line, run as a subprocess: adding, listing, codes, removing, passphrases, and
exit codes (1 with one line for bad input, 2 for usage; never a traceback)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import time

import pytest
import segno

from tests.authenticator.support import EXAMPLE_SECRET, EXAMPLE_URI

PREFIX = "watchword-authenticator: "
GITHUB_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's SHA-1 key, "12345678901234567890"
GITHUB_URI = f"otpauth://totp/GitHub:adele?secret={GITHUB_SECRET}&issuer=GitHub&digits=8"


def assert_refused(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(PREFIX) and message in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_add_an_otpauth_uri_then_list_it_as_codes_only(run_cli, state_path):
    added = run_cli("add", EXAMPLE_URI)
    listed = run_cli("list")

    assert added.returncode == 0 and "Added Contoso: adele@contoso.example (codes only)." in added.stdout
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split() == ["Contoso", "adele@contoso.example", "codes", "only", "-"]
    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600


def test_list_never_prints_a_seed(run_cli):
    run_cli("add", EXAMPLE_URI)

    assert EXAMPLE_SECRET not in run_cli("list").stdout


def test_add_from_a_qr_image(run_cli, tmp_path):
    image = tmp_path / "qr.png"
    segno.make(EXAMPLE_URI).save(image, scale=5)

    assert run_cli("add", "--image", str(image)).returncode == 0
    assert "adele@contoso.example" in run_cli("list").stdout


def test_adding_the_same_account_twice_is_refused(run_cli):
    run_cli("add", EXAMPLE_URI)

    assert_refused(run_cli("add", EXAMPLE_URI), "is already added")


def test_code_prints_every_account_with_seconds_left(run_cli):
    run_cli("add", EXAMPLE_URI)
    run_cli("add", GITHUB_URI)

    lines = run_cli("code").stdout.splitlines()

    assert [line.split("  ")[-1] for line in lines] == ["Contoso: adele@contoso.example", "GitHub: adele"]
    assert [len(line.split()[0]) for line in lines] == [6, 8]
    assert all("s left)" in line for line in lines)


@pytest.mark.parametrize(("uri", "secret", "oathtool_options"), [(EXAMPLE_URI, EXAMPLE_SECRET, []),
                                                                  (GITHUB_URI, GITHUB_SECRET, ["--digits=8"])])
def test_code_matches_oathtool(run_cli, uri, secret, oathtool_options):
    oathtool = shutil.which("oathtool")
    if oathtool is None:
        print("oathtool is not installed (Debian: apt-get install oathtool); skipping the comparison")
        pytest.skip("oathtool is not installed (Debian: apt-get install oathtool)")
    run_cli("add", uri)

    def oath() -> str:
        return subprocess.run([oathtool, "--totp", *oathtool_options, "-b", secret], capture_output=True, text=True,
                              check=True).stdout.strip()

    if 30 - time.time() % 30 < 3:  # too near a step boundary for three processes in a row
        time.sleep(3)
    before = oath()
    ours = run_cli("code").stdout.split()[0]
    after = oath()

    assert ours in {before, after}


def test_remove_deletes_the_account_locally(run_cli):
    run_cli("add", EXAMPLE_URI)
    run_cli("add", GITHUB_URI)

    removed = run_cli("remove", "GitHub:adele")

    assert removed.returncode == 0 and "Removed GitHub: adele" in removed.stdout
    assert "GitHub" not in run_cli("list").stdout


def test_list_and_code_with_no_state_file_say_how_to_add(run_cli, state_path):
    for command in ("list", "code"):
        result = run_cli(command)
        assert result.returncode == 0 and "No accounts yet" in result.stdout
    assert not state_path.exists()


def test_the_state_file_can_come_from_the_environment(run_cli, tmp_path):
    other = tmp_path / "elsewhere.json"
    run_cli("add", EXAMPLE_URI, state=other)

    from_environment = run_cli("list", state=False, env={"WATCHWORD_AUTHENTICATOR_STATE": str(other)})

    assert "adele@contoso.example" in from_environment.stdout


def test_the_default_state_file_is_in_the_config_folder(run_cli, tmp_path):
    run_cli("add", EXAMPLE_URI, state=False)

    assert (tmp_path / "home" / ".config" / "watchword-authenticator" / "state.json").exists()


# --- passphrases ------------------------------------------------------------------------------


def test_an_encrypted_state_works_with_the_passphrase_from_the_environment(run_cli, state_path):
    secret_env = {"WA_PASSPHRASE": "correct horse battery staple"}
    assert run_cli("--passphrase-env", "WA_PASSPHRASE", "init", "--passphrase", env=secret_env).returncode == 0
    assert run_cli("--passphrase-env", "WA_PASSPHRASE", "add", EXAMPLE_URI, env=secret_env).returncode == 0

    listed = run_cli("--passphrase-env", "WA_PASSPHRASE", "list", env=secret_env)

    assert "adele@contoso.example" in listed.stdout
    assert "encryption" in json.loads(state_path.read_text())


def test_a_wrong_passphrase_exits_1_and_changes_nothing(run_cli, state_path):
    run_cli("--passphrase-env", "P", "init", "--passphrase", env={"P": "right"})
    before = state_path.read_bytes()

    result = run_cli("--passphrase-env", "P", "add", EXAMPLE_URI, env={"P": "wrong"})

    assert_refused(result, "Wrong passphrase")
    assert state_path.read_bytes() == before


def test_an_encrypted_state_without_a_terminal_asks_for_passphrase_env(run_cli):
    run_cli("--passphrase-env", "P", "init", "--passphrase", env={"P": "right"})

    assert_refused(run_cli("list", stdin=""), "--passphrase-env")


def test_passphrase_set_and_clear(run_cli, state_path):
    run_cli("add", EXAMPLE_URI)

    assert run_cli("passphrase", "set", "--new-passphrase-env", "NEW", env={"NEW": "s3cret"}).returncode == 0
    assert "encryption" in json.loads(state_path.read_text())
    assert run_cli("--passphrase-env", "OLD", "passphrase", "clear", env={"OLD": "s3cret"}).returncode == 0
    assert "adele@contoso.example" in run_cli("list").stdout


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "message"), [
    ("hello", "not a Watchword activation payload"),
    ("otpauth://totp/Contoso:adele?secret=not-base32!", "not valid Base32"),
    ("watchword-push://activate?server=https%3A%2F%2Fmfa.contoso.example", "no activation code"),
])
def test_a_malformed_payload_exits_1_with_one_line(run_cli, payload, message):
    assert_refused(run_cli("add", payload), message)


def test_an_unreadable_image_exits_1(run_cli, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")

    assert_refused(run_cli("add", "--image", str(path)), "not an image file")


def test_an_image_without_a_qr_code_exits_1(run_cli, tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("L", (120, 120), 255).save(path)

    assert_refused(run_cli("add", "--image", str(path)), "No QR code")


def test_an_unreachable_server_exits_1(run_cli):
    payload = "watchword-push://activate?server=http%3A%2F%2F127.0.0.1%3A9&code=abc&account=a&issuer=C"

    assert_refused(run_cli("add", payload), "Could not reach http://127.0.0.1:9")


def test_a_world_readable_state_file_is_refused_with_the_fix(run_cli, state_path):
    run_cli("add", EXAMPLE_URI)
    state_path.chmod(0o644)

    assert_refused(run_cli("code"), "chmod 600")


def test_code_for_an_unknown_account_exits_1(run_cli):
    run_cli("add", EXAMPLE_URI)

    assert_refused(run_cli("code", "nobody"), "No account matches 'nobody'")


def test_listen_without_push_accounts_exits_1(run_cli):
    run_cli("add", EXAMPLE_URI)

    assert_refused(run_cli("listen", "adele@contoso.example"), "codes only")


@pytest.mark.parametrize("arguments", [[], ["frobnicate"], ["add"], ["add", EXAMPLE_URI, "--image", "x.png"],
                                       ["listen", "--auto", "approve"], ["listen", "--number", "42"],
                                       ["listen", "--auto", "maybe"], ["passphrase"]])
def test_usage_errors_exit_2(run_cli, arguments):
    result = run_cli(*arguments)

    assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [[], ["init"], ["add"], ["list"], ["code"], ["listen"], ["remove"],
                                     ["passphrase"], ["passphrase", "set"], ["passphrase", "clear"]])
def test_every_command_has_help(run_cli, command):
    result = run_cli(*command, "--help")

    assert result.returncode == 0 and result.stdout.startswith("usage: watchword-authenticator")
