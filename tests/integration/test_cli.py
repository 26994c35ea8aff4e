"""The ``watchword`` command line, run in-process against the test database: what an operator
types, what they see, and the exit codes scripts rely on (0 done, 1 failed, 2 bad usage)."""

from __future__ import annotations

import io
import json

import pytest

from tests.support import PASSWORD
from watchword.cli import build_parser, main
from watchword.directory.models import MfaState, Role, User

pytestmark = pytest.mark.django_db


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``watchword <argv>`` and return (exit code, stdout, stderr), as a shell would see them."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# --- init ------------------------------------------------------------------------------------


def test_init_creates_the_first_global_administrator_and_prints_a_one_time_password(capsys):
    code, out, _ = run(capsys, "init", "--admin", "megan.bowen@contoso.example", "--admin-name", "Megan Bowen")

    assert code == 0
    megan = User.objects.get(upn="megan.bowen@contoso.example")
    assert megan.role == Role.GLOBAL_ADMIN and megan.must_change_password
    one_time = next(line.split(":", 1)[1].strip() for line in out.splitlines() if "One-time password" in line)
    assert megan.check_password(one_time)


def test_running_init_again_changes_nothing_and_says_so(capsys):
    run(capsys, "init", "--admin", "megan.bowen@contoso.example")

    code, out, _ = run(capsys, "init", "--admin", "someone.else@contoso.example")

    assert code == 0
    assert "already initialised" in out
    assert list(User.objects.values_list("upn", flat=True)) == ["megan.bowen@contoso.example"]


# --- user ------------------------------------------------------------------------------------


def test_user_add_creates_a_person_and_prints_their_one_time_password(capsys):
    code, out, _ = run(capsys, "user", "add", "adele.vance@contoso.example", "--name", "Adele Vance",
                       "--email", "adele.vance@contoso.example", "--office-phone", "+44 20 7946 0958 x123",
                       "--mobile-phone", "07400 123456")

    assert code == 0
    adele = User.objects.get(upn="adele.vance@contoso.example")
    assert (adele.display_name, adele.office_phone, adele.mobile_phone) == (
        "Adele Vance", "+442079460958x123", "+447400123456")
    assert "Created adele.vance@contoso.example (Adele Vance)" in out
    one_time = out.split("One-time password: ")[1].split()[0]
    assert adele.check_password(one_time) and adele.must_change_password


def test_user_add_with_password_stdin_sets_that_password_and_prints_none(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))

    code, out, _ = run(capsys, "user", "add", "adele.vance@contoso.example", "--name", "Adele Vance",
                       "--password-stdin")

    assert code == 0
    adele = User.objects.get(upn="adele.vance@contoso.example")
    assert adele.check_password(PASSWORD) and not adele.must_change_password
    assert "One-time password" not in out


def test_user_add_with_an_invalid_sign_in_name_fails_with_the_reason_on_stderr(capsys):
    code, out, err = run(capsys, "user", "add", "adele", "--name", "Adele Vance")

    assert code == 1
    assert err == "watchword: A sign-in name looks like name@example.org. [invalid_user_field]\n"
    assert not User.objects.exists()


def test_user_add_with_a_bad_phone_number_fails_naming_the_field(capsys):
    code, _, err = run(capsys, "user", "add", "adele.vance@contoso.example", "--name", "Adele Vance",
                       "--mobile-phone", "call me")

    assert code == 1
    assert "Mobile phone: This is not a phone number." in err


def test_user_add_for_an_existing_sign_in_name_fails(capsys, adele):
    code, _, err = run(capsys, "user", "add", adele.upn, "--name", "Adele Again")

    assert code == 1
    assert "[user_exists]" in err


def test_user_list_shows_everyone_with_their_mfa_state(capsys, adele, megan):
    code, out, _ = run(capsys, "user", "list")

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["UPN", "DISPLAY_NAME", "MFA_STATE", "ROLE", "ENABLED", "METHODS"]
    assert [line.split()[0] for line in lines[1:]] == [adele.upn, megan.upn]


def test_user_list_as_json_gives_one_object_per_person(capsys, adele, enrol):
    enrol(adele)

    code, out, _ = run(capsys, "user", "list", "--format", "json")

    assert code == 0
    assert json.loads(out) == [{"upn": adele.upn, "display_name": "Adele Vance", "mfa_state": "disabled",
                                "role": "user", "enabled": True, "methods": 1}]


def test_user_list_filtered_by_state_shows_only_those_people(capsys, adele, make_person):
    make_person("Lee Gu", mfa_state="enabled")

    _, out, _ = run(capsys, "user", "list", "--state", "enabled", "--format", "json")

    assert [row["upn"] for row in json.loads(out)] == ["lee.gu@contoso.example"]


def test_user_list_with_an_unknown_state_is_a_usage_error(capsys):
    code, _, err = run(capsys, "user", "list", "--state", "sometimes")

    assert code == 2
    assert "The MFA state must be disabled, enabled or enforced." in err


def test_user_list_with_nobody_says_so(capsys):
    assert run(capsys, "user", "list")[1] == "No users.\n"


def test_user_disable_disables_the_account_and_signs_the_person_out(capsys, adele):
    epoch = adele.session_epoch

    code, out, _ = run(capsys, "user", "disable", adele.upn)

    adele.refresh_from_db()
    assert code == 0
    assert not adele.is_active and adele.session_epoch == epoch + 1
    assert out == f"{adele.upn} is now disabled and signed out everywhere.\n"


def test_user_enable_enables_a_disabled_account(capsys, adele):
    run(capsys, "user", "disable", adele.upn)

    code, out, _ = run(capsys, "user", "enable", adele.upn)

    adele.refresh_from_db()
    assert code == 0 and adele.is_active
    assert out == f"{adele.upn} is now enabled.\n"


def test_user_disable_for_an_unknown_person_fails(capsys):
    code, _, err = run(capsys, "user", "disable", "nobody@contoso.example")

    assert code == 1
    assert err == "watchword: There is no such user. [user_not_found]\n"


def test_user_disable_refuses_the_last_global_administrator(capsys, megan):
    code, _, err = run(capsys, "user", "disable", megan.upn)

    megan.refresh_from_db()
    assert code == 1 and megan.is_active
    assert "[last_global_admin]" in err


def test_user_import_reports_bad_lines_on_stderr_and_exits_1(capsys, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("upn,display_name\nadele.vance@contoso.example,Adele Vance\nnot-an-email,Somebody\n")

    code, out, err = run(capsys, "user", "import", str(path))

    assert code == 1
    assert "line 2: created adele.vance@contoso.example" in out
    assert "line 3: NOT imported: A sign-in name looks like name@example.org." in err
    assert "1 imported, 1 rows with problems." in out


def test_user_import_of_a_missing_file_fails_with_the_reason(capsys, tmp_path):
    code, _, err = run(capsys, "user", "import", str(tmp_path / "missing.csv"))

    assert code == 1
    assert "cannot read" in err and "No such file or directory" in err


def test_user_import_of_a_file_that_is_not_utf8_fails_as_a_whole(capsys, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes("upn,display_name\nadele.vance@contoso.example,Adèle Vance\n".encode("latin-1"))

    code, _, err = run(capsys, "user", "import", str(path))

    assert code == 1
    assert "[csv_invalid]" in err
    assert not User.objects.exists()


# --- mfa state -------------------------------------------------------------------------------


def test_mfa_state_get_prints_the_state(capsys, adele):
    assert run(capsys, "mfa", "state", "get", adele.upn) == (0, "disabled\n", "")


def test_mfa_state_get_accepts_the_sign_in_name_in_any_case(capsys, adele):
    assert run(capsys, "mfa", "state", "get", "Adele.Vance@Contoso.Example")[:2] == (0, "disabled\n")


def test_mfa_state_set_changes_the_state_and_prints_it(capsys, adele):
    code, out, _ = run(capsys, "mfa", "state", "set", adele.upn, "enabled", "--no-notify")

    adele.refresh_from_db()
    assert code == 0 and adele.mfa_state == MfaState.ENABLED
    assert out == f"{adele.upn}: per-user MFA is enabled\n"


def test_mfa_state_set_enabled_for_someone_with_a_method_prints_enforced(capsys, adele, enrol):
    enrol(adele)

    _, out, _ = run(capsys, "mfa", "state", "set", adele.upn, "enabled", "--no-notify")

    assert out == f"{adele.upn}: per-user MFA is enforced\n"


def test_mfa_state_set_sends_the_notice_unless_told_not_to(capsys, mail_folder, adele, make_person):
    lee = make_person("Lee Gu")

    run(capsys, "mfa", "state", "set", adele.upn, "enabled")
    run(capsys, "mfa", "state", "set", lee.upn, "enabled", "--no-notify")

    assert len(list(mail_folder.glob("*.eml"))) == 1


def test_mfa_state_set_for_an_unknown_person_fails(capsys):
    code, _, err = run(capsys, "mfa", "state", "set", "nobody@contoso.example", "enabled")

    assert code == 1
    assert "There is no such user." in err


# --- keys and serve --------------------------------------------------------------------------


def test_keys_rotate_without_a_keyring_fails_telling_to_run_init(capsys, settings, tmp_path):
    settings.SEAL_KEYRING = tmp_path / "keys" / "seal.json"

    code, _, err = run(capsys, "keys", "rotate")

    assert code == 1
    assert "run 'watchword init' first" in err
    assert not settings.SEAL_KEYRING.exists()


def test_serve_refuses_to_start_before_init(capsys, settings, tmp_path):
    settings.SEAL_KEYRING = tmp_path / "keys" / "seal.json"

    code, _, err = run(capsys, "serve", "--bind", "127.0.0.1:0")

    assert code == 1
    assert "run 'watchword init' first" in err


# --- usage errors and help -------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["user"],
    ["user", "add", "adele.vance@contoso.example"],  # --name is required
    ["user", "add", "adele.vance@contoso.example", "--name", "Adele Vance", "--role", "superuser"],
    ["user", "list", "--format", "xml"],
    ["mfa", "state"],
    ["mfa", "state", "set", "adele.vance@contoso.example"],
    ["mfa", "state", "set", "adele.vance@contoso.example", "sometimes"],
    ["keys"],
    ["serve", "--workers", "many"],
], ids=lambda argv: " ".join(argv) or "(nothing)")
def test_bad_arguments_exit_2_with_a_usage_message_on_stderr(capsys, argv):
    code, out, err = run(capsys, *argv)

    assert code == 2
    assert "usage: watchword" in err
    assert "error:" in err
    assert out == ""


def subcommands(parser=None, prefix=()):
    """Every command and sub-command the parser knows, as argument lists."""
    import argparse

    parser = parser or build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield [*prefix, name]
                yield from subcommands(sub, (*prefix, name))


@pytest.mark.parametrize("command", list(subcommands()), ids=" ".join)
def test_help_for_every_command_exits_0_and_describes_it(capsys, command):
    code, out, _ = run(capsys, *command, "--help")

    assert code == 0
    assert out.strip()


def test_help_lists_every_top_level_command(capsys):
    _, out, _ = run(capsys, "--help")

    for name in ("init", "serve", "user", "mfa", "keys", "manage"):
        assert name in out
