"""``watchword policy …`` run in-process against the test database: importing policies from the
reference (warnings, errors with their field path, all or none, dry run, the lockout check),
states, Security Defaults, the what-if tool, named locations, the MFA settings and the methods
policy, and the exit codes scripts rely on (0 done, 1 refused, 2 bad arguments)."""

from __future__ import annotations

import io
import json

import pytest

from watchword.audit.models import AuditEvent
from watchword.cli import main
from watchword.directory.models import Group
from watchword.policy import graph, services
from watchword.policy.models import ConditionalAccessPolicy, NamedLocation
from watchword.policy.resolve import DatabaseResolver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    """The compiled configuration is cached by version number, and each test's database starts
    again at version 1."""
    services.forget_cache()
    yield
    services.forget_cache()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["policy", *argv])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def sales(adele):
    group = Group.objects.create(name="Sales")
    group.members.add(adele)
    return group


def require_mfa(name="Require MFA for Sales", *, group="Sales", state="enabled", **extra) -> dict:
    return {"displayName": name, "state": state,
            "conditions": {"users": {"includeGroups": [group]}, "applications": {"includeApplications": ["All"]},
                           "clientAppTypes": ["all"]},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}, **extra}


def block_android(state="enabled") -> dict:
    return {"displayName": "Block Android", "state": state,
            "conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                           "platforms": {"includePlatforms": ["android"]}},
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}}


def from_the_reference() -> dict:
    """A policy as Graph returns it, with parts Watchword does not enforce."""
    policy = require_mfa("Sales MFA from Entra")
    policy.update({"id": "9f3c1d5e-1111-4a4a-9b9b-222233334444", "createdDateTime": "2025-01-01T00:00:00Z",
                   "templateId": None})
    policy["conditions"]["userRiskLevels"] = ["high"]
    policy["grantControls"]["builtInControls"] = ["mfa", "compliantDevice"]
    return policy


def block_admin_pages() -> dict:
    return {"displayName": "Block admin pages", "state": "enabled",
            "conditions": {"users": {"includeUsers": ["All"]},
                           "applications": {"includeApplications": ["WatchwordAdmin"]}},
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}}


def write(tmp_path, data, name="policies.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def add(document: dict, **kwargs) -> ConditionalAccessPolicy:
    """Save a policy naming things as an administrator would (by name), as the import does."""
    imported = graph.import_policy(document, resolve=DatabaseResolver())
    return services.save_policy(imported.document, actor="cli", **kwargs)[0]


def saved(name: str) -> ConditionalAccessPolicy:
    return ConditionalAccessPolicy.objects.get(display_name=name)


# --- import ------------------------------------------------------------------------------------


def test_import_adds_the_policies_and_prints_each_dropped_part_with_its_field(capsys, tmp_path, sales):
    envelope = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies",
                "value": [from_the_reference(), block_android()]}

    code, out, err = run(capsys, "import", write(tmp_path, envelope))

    assert code == 0, err
    assert "Policy 1: 'Sales MFA from Entra'" in out
    assert "  warning: value[0].conditions.userRiskLevels: " in out
    assert "  warning: value[0].grantControls.builtInControls[1]: Require compliant device" in out
    assert "Policy 2: 'Block Android' (no warnings)" in out
    assert "Imported 2 policies." in out
    stored = saved("Sales MFA from Entra").document
    assert stored["conditions"]["users"]["includeGroups"] == [str(sales.pk)]  # the name became the id
    assert stored["grantControls"]["builtInControls"] == ["mfa"]
    assert AuditEvent.objects.filter(action="policy.create", actor_label="cli").count() == 2


def test_import_with_an_unknown_group_saves_nothing_and_names_the_field(capsys, tmp_path, sales):
    data = [require_mfa("Fine"), require_mfa("Finance MFA", group="Finance")]

    code, out, err = run(capsys, "import", write(tmp_path, data))

    assert code == 2
    assert err.startswith("watchword: [1].conditions.users.includeGroups[0]: Policy 2 ('Finance MFA'): There is no "
                          "group 'Finance' here.")
    assert err.rstrip().endswith("[policy_invalid]") and len(err.splitlines()) == 1
    assert not ConditionalAccessPolicy.objects.exists()


def test_import_saves_all_or_none_when_a_later_policy_is_refused_on_saving(capsys, tmp_path, sales):
    services.set_security_defaults(True, actor="cli")
    data = [require_mfa("Report only", state="enabledForReportingButNotEnforced"), require_mfa("Turned on")]

    code, _, err = run(capsys, "import", write(tmp_path, data))

    assert code == 1
    assert "watchword: [1].state: Policy 2 ('Turned on'): You must first turn off Security Defaults" in err
    assert "[policy_conflict]" in err
    assert not ConditionalAccessPolicy.objects.exists()


def test_a_dry_run_shows_the_warnings_and_saves_nothing(capsys, tmp_path, sales):
    code, out, _ = run(capsys, "import", write(tmp_path, from_the_reference()), "--dry-run")

    assert code == 0
    assert "  warning: grantControls.builtInControls[1]: " in out  # one policy: paths without a prefix
    assert "Dry run: 1 policy would be added; nothing was saved." in out
    assert not ConditionalAccessPolicy.objects.exists()
    assert not AuditEvent.objects.filter(action="policy.create").exists()


def test_import_reads_standard_input(capsys, monkeypatch, sales):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(require_mfa())))

    code, out, _ = run(capsys, "import", "-")

    assert code == 0
    assert "Imported 1 policy." in out
    assert saved("Require MFA for Sales").state == "enabled"


def test_a_policy_that_could_lock_administrators_out_needs_confirm(capsys, tmp_path, megan):
    path = write(tmp_path, [block_admin_pages()])

    code, out, err = run(capsys, "import", path)

    assert code == 1
    assert "policy 1 ('Block admin pages') could lock administrators out [policy_lockout_risk]" in err
    assert "blocks every Global Administrator" in err
    assert "Re-run with --confirm" in err
    assert not ConditionalAccessPolicy.objects.exists()

    code, out, _ = run(capsys, "import", path, "--confirm")

    assert code == 0
    assert "  confirmed: This policy blocks every Global Administrator" in out
    assert saved("Block admin pages").state == "enabled"


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ('{"displayName": "x", "state": "sometimes"}', "state: "),
    ("[1]", "[0]: Policy 1: A policy is one JSON object"),
])
def test_import_of_a_bad_file_is_a_usage_error(capsys, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)

    code, _, err = run(capsys, "import", str(path))

    assert code == 2
    assert message in err
    assert len(err.splitlines()) == 1


def test_import_of_a_missing_file_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, "import", str(tmp_path / "nowhere.json"))

    assert code == 2
    assert err == f"watchword: cannot read {tmp_path / 'nowhere.json'}: No such file or directory\n"


# --- list, show, export, state, delete --------------------------------------------------------


def test_list_shows_id_name_state_and_grant(capsys, sales):
    mfa = add(require_mfa())
    block = add(block_android("enabledForReportingButNotEnforced"))

    code, out, _ = run(capsys, "list")

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATE", "GRANT"]
    assert lines[1].split() == [str(block.pk), "Block", "Android", "report-only", "block"]
    assert lines[2].split() == [str(mfa.pk), "Require", "MFA", "for", "Sales", "on", "MFA"]


def test_list_with_no_policies_says_how_to_add_some(capsys):
    assert "No Conditional Access policies." in run(capsys, "list")[1]


def test_show_prints_the_policy_in_graphs_shape_by_id_or_name(capsys, sales):
    row = add(require_mfa())

    by_id = json.loads(run(capsys, "show", str(row.pk))[1])
    by_name = json.loads(run(capsys, "show", "Require MFA for Sales")[1])

    assert by_id == by_name
    assert by_id["id"] == str(row.pk) and by_id["state"] == "enabled"
    assert by_id["conditions"]["users"]["includeGroups"] == [str(sales.pk)]


def test_show_of_an_unknown_policy_fails(capsys):
    code, _, err = run(capsys, "show", "no-such-policy")

    assert code == 1
    assert err == "watchword: There is no policy 'no-such-policy'; 'watchword policy list' shows them. " \
                  "[policy_not_found]\n"


def test_export_writes_graphs_envelope_that_imports_again(capsys, tmp_path, sales):
    add(require_mfa())
    path = tmp_path / "export.json"

    code, out, _ = run(capsys, "export", "--output", str(path))

    assert code == 0 and out == f"Exported 1 policy to {path}.\n"
    exported = json.loads(path.read_text())
    assert exported["@odata.context"].endswith("#identity/conditionalAccess/policies")
    assert [p["displayName"] for p in exported["value"]] == ["Require MFA for Sales"]
    code, out, _ = run(capsys, "import", str(path), "--dry-run")
    assert code == 0 and "(no warnings)" in out


def test_state_turns_a_policy_to_report_only_off_and_on(capsys, sales):
    row = add(require_mfa())

    for word, state in (("report-only", "enabledForReportingButNotEnforced"), ("off", "disabled"), ("on", "enabled")):
        code, out, _ = run(capsys, "state", str(row.pk), word)
        row.refresh_from_db()
        assert code == 0 and out == f"'Require MFA for Sales' is now {word}.\n"
        assert row.state == state
    assert AuditEvent.objects.filter(action="policy.state", actor_label="cli").count() == 3


def test_a_policy_cannot_be_turned_on_while_security_defaults_is_on(capsys, sales):
    row = add(require_mfa(state="disabled"))
    services.set_security_defaults(True, actor="cli")

    code, _, err = run(capsys, "state", str(row.pk), "on")

    assert code == 1
    assert err.startswith("watchword: state: You must first turn off Security Defaults")
    row.refresh_from_db()
    assert row.state == "disabled"


def test_turning_on_a_policy_that_locks_administrators_out_needs_confirm(capsys, megan):
    row = add({**block_admin_pages(), "state": "disabled"})

    code, _, err = run(capsys, "state", str(row.pk), "on")
    assert code == 1 and "Re-run with --confirm" in err

    code, out, _ = run(capsys, "state", str(row.pk), "on", "--confirm")
    assert code == 0 and out.endswith("'Block admin pages' is now on.\n")


def test_delete_removes_the_policy(capsys, sales):
    row = add(require_mfa())

    code, out, _ = run(capsys, "delete", str(row.pk))

    assert code == 0 and out == "Deleted 'Require MFA for Sales'.\n"
    assert not ConditionalAccessPolicy.objects.exists()


# --- Security Defaults -------------------------------------------------------------------------


def test_security_defaults_is_shown_and_turned_on_and_off(capsys):
    assert run(capsys, "security-defaults")[1] == "Security Defaults is off.\n"

    code, out, _ = run(capsys, "security-defaults", "on")

    assert code == 0 and out.startswith("Security Defaults is on (since ")
    assert services.current_settings().security_defaults
    assert run(capsys, "security-defaults", "off")[1].startswith("Security Defaults is off")


def test_security_defaults_cannot_be_turned_on_while_a_policy_is_on(capsys, sales):
    add(require_mfa())

    code, _, err = run(capsys, "security-defaults", "on")

    assert code == 1
    assert "Turn them off (or to report-only) first." in err and "[policy_conflict]" in err
    assert not services.current_settings().security_defaults


# --- what if -----------------------------------------------------------------------------------


@pytest.fixture
def two_policies(sales):
    add(require_mfa())
    add(block_android())


def test_whatif_says_the_outcome_and_which_policies_apply_and_why_others_do_not(capsys, adele, enrol, two_policies):
    enrol(adele)

    code, out, _ = run(capsys, "whatif", "--user", adele.upn, "--app", "WatchwordPortal", "--ip", "203.0.113.9",
                       "--risk", "none")

    assert code == 0
    assert out.splitlines()[0] == (f"What if {adele.upn} signs in to WatchwordPortal (browser, from 203.0.113.9, "
                                   f"platform unknown, sign-in risk none):")
    assert "Outcome: MFA required: the person is asked for a second factor. (error 50076)" in out
    assert ("Second factors that will do: authenticator notification, text message, authenticator code, voice call"
            in out)
    assert "  - Conditional Access policy 'Require MFA for Sales' requires MFA [conditional_access:" in out
    assert "Policies that apply:\n  - 'Require MFA for Sales': mfa; enforced\n" in out
    assert "Policies that do not apply:\n  - 'Block Android': device platforms: unknown is not included\n" in out


def test_whatif_from_an_android_phone_is_blocked(capsys, adele, enrol, two_policies):
    enrol(adele)

    _, out, _ = run(capsys, "whatif", "--user", adele.upn, "--app", "WatchwordPortal", "--platform", "android",
                    "--client", "mobileAppsAndDesktopClients")

    assert "Outcome: Blocked: the sign-in is refused. (error 53003)" in out
    assert "  - 'Block Android': block; enforced" in out


def test_whatif_for_someone_outside_the_group_names_the_unmet_condition(capsys, make_person, two_policies):
    lee = make_person("Lee Gu")

    _, out, _ = run(capsys, "whatif", "--user", lee.upn, "--app", "WatchwordPortal")

    assert "Outcome: Allowed: the password alone is enough." in out
    assert "  - 'Require MFA for Sales': users: the person is not included" in out


def test_whatif_as_json_gives_the_apis_shape(capsys, adele, two_policies):
    code, out, _ = run(capsys, "whatif", "--user", adele.upn, "--app", "WatchwordPortal", "--json")

    found = json.loads(out)
    assert code == 0
    assert set(found) >= {"outcome", "errorCode", "reasons", "appliedPolicies", "notAppliedPolicies"}
    assert [p["displayName"] for p in found["appliedPolicies"]] == ["Require MFA for Sales"]
    assert found["notAppliedPolicies"][0]["conditionNotSatisfied"] == "device platforms: unknown is not included"


def test_whatif_register_security_info_targets_the_user_action(capsys, adele, two_policies):
    _, out, _ = run(capsys, "whatif", "--user", adele.upn, "--app", "WatchwordPortal", "--register-security-info")

    assert out.startswith(f"What if {adele.upn} registers security info (browser, ")
    assert ("  - 'Require MFA for Sales': applications: the sign-in is for a user action, not an application"
            in out)


@pytest.mark.parametrize("argv, message", [
    (["--app", "Payroll"], "watchword: app: There is no application 'Payroll' here. [policy_invalid]\n"),
    (["--app", "WatchwordPortal", "--ip", "not-an-address"],
     "watchword: ip: 'not-an-address' is not an IP address. [policy_invalid]\n"),
])
def test_whatif_with_a_bad_value_is_a_usage_error_naming_it(capsys, adele, argv, message):
    code, out, err = run(capsys, "whatif", "--user", adele.upn, *argv)

    assert code == 2 and out == ""
    assert err == message


def test_whatif_for_an_unknown_person_fails(capsys):
    code, _, err = run(capsys, "whatif", "--user", "nobody@contoso.example", "--app", "WatchwordPortal")

    assert code == 1
    assert "[user_not_found]" in err


# --- named locations ---------------------------------------------------------------------------


def test_locations_are_added_listed_and_removed_by_name(capsys):
    code, out, _ = run(capsys, "locations", "add", "Head office", "--ranges", "10.1.0.0/16, 2001:db8:1::/48",
                       "--trusted")
    location = NamedLocation.objects.get()
    assert code == 0 and out == f"Added named location 'Head office' (trusted): {location.pk}\n"
    assert location.ranges == ["10.1.0.0/16", "2001:db8:1::/48"]

    lines = run(capsys, "locations", "list")[1].splitlines()
    assert lines[0].split() == ["ID", "NAME", "TRUSTED", "RANGES"]
    assert lines[1].split() == [str(location.pk), "Head", "office", "yes", "10.1.0.0/16,", "2001:db8:1::/48"]

    assert run(capsys, "locations", "remove", "head office")[1] == "Removed named location 'Head office'.\n"
    assert not NamedLocation.objects.exists()


def test_a_location_with_a_bad_range_is_refused_naming_the_range(capsys):
    code, _, err = run(capsys, "locations", "add", "Branch", "--ranges", "10.2.0.0/16,10.3.0.1/16")

    assert code == 2
    assert err.startswith("watchword: ipRanges[1]: '10.3.0.1/16' has host bits set")


def test_a_location_a_policy_uses_cannot_be_removed(capsys, sales):
    location = services.save_location(name="Branch", ranges=["10.2.0.0/16"], trusted=False, actor="cli")
    policy = require_mfa()
    policy["conditions"]["locations"] = {"includeLocations": ["Branch"]}
    add(policy)

    code, _, err = run(capsys, "locations", "remove", str(location.pk))

    assert code == 1
    assert "'Branch' is used by 'Require MFA for Sales'" in err


def test_removing_an_unknown_location_fails(capsys):
    code, _, err = run(capsys, "locations", "remove", "Atlantis")

    assert code == 1 and "There is no named location 'Atlantis'" in err


# --- MFA settings and the methods policy -------------------------------------------------------


def test_settings_set_changes_them_all_and_show_prints_lists_comma_separated(capsys, sales):
    code, out, err = run(capsys, "settings", "set", "remember_mfa_days=14", "campaign_enabled=true",
                         "mfa_trusted_ips=192.0.2.0/24,2001:db8:50::/48", "campaign_include_groups=Sales")

    assert code == 0, err
    row = services.current_settings()
    assert (row.remember_mfa_days, row.campaign_enabled) == (14, True)
    assert row.mfa_trusted_ips == ["192.0.2.0/24", "2001:db8:50::/48"]
    assert row.campaign_include_groups == [str(sales.pk)]
    shown = dict(line.split(None, 1) for line in run(capsys, "settings", "show")[1].splitlines())
    assert shown["mfa_trusted_ips"] == "192.0.2.0/24,2001:db8:50::/48"
    assert shown["campaign_exclude_groups"] == "(none)"
    assert shown["campaign_enabled"] == "true"


@pytest.mark.parametrize("pair, message", [
    ("remember_mfa_days", "settings are given as KEY=VALUE"),
    ("campaign_enabled=perhaps", "campaign_enabled takes true or false, not 'perhaps'"),
    ("lockout_threshold=\u00b2", "lockout_threshold takes a whole number, not '\u00b2'"),
    ("remember_mfa_days=400", "remember_mfa_days: Days to remember MFA on a browser (0 turns it off) must be"),
    ("colour=blue", "colour: 'colour' is not an MFA setting"),
    ("mfa_trusted_ips=192.0.2.0/24,banana", "mfa_trusted_ips[1]: 'banana' is not an IP address"),
])
def test_a_bad_setting_changes_nothing_and_is_a_usage_error(capsys, pair, message):
    code, _, err = run(capsys, "settings", "set", "remember_mfa_days=7", pair)

    assert code == 2 and message in err
    assert services.current_settings().remember_mfa_days == 0


def test_methods_policy_is_shown_and_replaced_from_a_file(capsys, tmp_path):
    shown = json.loads(run(capsys, "methods", "show")[1])
    assert shown["sms"]["state"] == "enabled"
    shown["sms"]["state"] = "disabled"

    code, out, _ = run(capsys, "methods", "set", write(tmp_path, shown, "methods.json"))

    assert code == 0 and out.startswith("Saved the authentication-methods policy:")
    assert json.loads(run(capsys, "methods", "show")[1])["sms"]["state"] == "disabled"


def test_a_bad_methods_policy_is_refused_naming_the_field(capsys, tmp_path):
    code, _, err = run(capsys, "methods", "set", write(tmp_path, {"sms": {"state": "sometimes"}}))

    assert code == 2 and err.startswith("watchword: sms.state: state must be enabled or disabled.")


# --- bad arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["state", "some-id"],
    ["state", "some-id", "sometimes"],
    ["security-defaults", "maybe"],
    ["whatif", "--user", "adele.vance@contoso.example"],
    ["whatif", "--user", "a@b.c", "--app", "WatchwordPortal", "--client", "fax"],
    ["whatif", "--user", "a@b.c", "--app", "WatchwordPortal", "--risk", "extreme"],
    ["whatif", "--user", "a@b.c", "--app", "WatchwordPortal", "--platform", "amiga"],
    ["import"],
    ["locations", "add", "Head office"],
    ["settings", "set"],
    ["methods", "set"],
], ids=lambda argv: " ".join(argv) or "(nothing)")
def test_bad_arguments_exit_2_with_a_usage_message(capsys, argv):
    code, out, err = run(capsys, *argv)

    assert code == 2 and out == ""
    assert "usage: watchword policy" in err and "error:" in err
