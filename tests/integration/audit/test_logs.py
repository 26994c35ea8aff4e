"""The audit log (who changed what, before → after) and the sign-in log (every step, with the
reference's error codes); both append-only, and neither ever holds a code or a password."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from tests.support import PASSWORD, let_throttle_time_pass
from watchword.audit import codes
from watchword.audit.models import AuditEvent, SignInEvent
from watchword.audit.services import record_change, record_signin
from watchword.directory.services import reset_password, set_enabled, update_user
from watchword.methods.services import delete_method, require_reregistration, set_default_method, set_mfa_state
from tests.support import ACCOUNT_THRESHOLD

pytestmark = pytest.mark.django_db

WRONG = "Wrong-Password-123"


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


def last_signin() -> SignInEvent:
    return SignInEvent.objects.order_by("-id").first()


@pytest.fixture
def adele_app(adele, enrol):
    set_mfa_state(adele, "enabled", actor="cli", notify=False)
    return enrol(adele)


# --- audit log -----------------------------------------------------------------------------


def test_creating_a_person_records_who_created_them_and_what_was_stored(adele):
    event = last_event("user.create")

    assert (event.actor_label, event.target_label, event.target_id) == ("cli", adele.upn, str(adele.pk))
    assert event.before is None
    assert event.after["display_name"] == "Adele Vance"
    assert event.after["office_phone"] == "+442079460958x123"


def test_changing_a_person_records_the_values_before_and_after(adele, megan):
    update_user(adele, {"display_name": "Adele Vance-Smith"}, actor=megan)

    event = last_event("user.update")
    assert (event.actor_id, event.actor_label) == (megan.pk, megan.upn)
    assert (event.before["display_name"], event.after["display_name"]) == ("Adele Vance", "Adele Vance-Smith")


def test_saving_a_person_unchanged_records_nothing(adele, megan):
    update_user(adele, {"display_name": "Adele Vance"}, actor=megan)

    assert last_event("user.update") is None


def test_changing_the_mfa_state_from_the_admin_page_records_before_after_and_the_admins_address(sign_in, adele, megan):
    client = Client(REMOTE_ADDR="192.0.2.7")
    sign_in.password(client, megan.upn)

    client.post(f"/admin/users/{adele.pk}/mfa-state", {"mfa_state": "enabled"})

    event = last_event("user.mfa.state")
    assert (event.before, event.after) == ({"mfa_state": "disabled"}, {"mfa_state": "enabled"})
    assert (event.actor_label, event.ip) == (megan.upn, "192.0.2.7")


def test_registering_a_method_records_the_method_and_the_automatic_move_to_enforced(adele, adele_app):
    registered = last_event("user.mfa.state")

    assert last_event("method.register").after["method_id"] == adele_app.method.pk
    assert (registered.actor_label, registered.reason) == ("system", "registration completed")
    assert registered.after == {"mfa_state": "enforced"}


def test_deleting_a_method_records_which_method_was_deleted(adele, enrol):
    app = enrol(adele)
    method_id = app.method.pk

    delete_method(adele, method_id, actor=adele)

    assert last_event("method.delete").before == {"type": "totp", "name": "Authenticator app", "method_id": method_id}


def test_changing_the_default_method_records_the_old_and_new_default(adele, enrol):
    first, second = enrol(adele), enrol(adele)

    set_default_method(adele, second.method.pk, actor=adele)

    event = last_event("method.default")
    assert (event.before, event.after) == ({"method_id": first.method.pk}, {"method_id": second.method.pk})


def test_requiring_re_registration_records_the_methods_removed(adele, megan, adele_app):
    require_reregistration(adele, actor=megan)

    event = last_event("user.mfa.require_reregistration")
    assert [m["method_id"] for m in event.before["methods"]] == [adele_app.method.pk]
    assert event.after == {"methods": [], "mfa_state": "enabled"}


def test_disabling_an_account_records_enabled_before_and_after(adele, megan):
    set_enabled(adele, False, actor=megan)

    event = last_event("user.disable")
    assert (event.before, event.after) == ({"enabled": True}, {"enabled": False})


def test_a_password_reset_is_recorded_without_the_password(adele, megan):
    one_time = reset_password(adele, actor=megan)

    event = last_event("user.password.reset")
    adele.refresh_from_db()
    recorded = str(AuditEvent.objects.filter(target_id=str(adele.pk)).values())
    assert event.actor_label == megan.upn
    assert one_time not in recorded
    assert adele.password not in recorded


# --- sign-in log ---------------------------------------------------------------------------


def test_a_wrong_password_for_a_known_account_is_logged_as_bad_credentials(sign_in, adele):
    sign_in.password(Client(), adele.upn, WRONG)

    row = last_signin()
    assert (row.error_code, row.result, row.user_id, row.reason) == (
        codes.BAD_CREDENTIALS, "failure", adele.pk, "wrong password")


def test_an_unknown_account_is_logged_as_bad_credentials_with_the_name_typed(sign_in):
    sign_in.password(Client(), "nobody@contoso.example", WRONG)

    row = last_signin()
    assert (row.error_code, row.user_id, row.typed_name, row.reason) == (
        codes.BAD_CREDENTIALS, None, "nobody@contoso.example", "unknown user")


def test_a_disabled_account_is_logged_as_disabled(sign_in, adele, megan):
    set_enabled(adele, False, actor=megan)

    sign_in.password(Client(), adele.upn)

    assert last_signin().error_code == codes.ACCOUNT_DISABLED == 50057


def test_an_attempt_while_throttled_is_logged_as_throttled(sign_in, adele, settings):
    client = Client()
    for _ in range(ACCOUNT_THRESHOLD):
        sign_in.password(client, adele.upn, WRONG)
    for _ in range(2):  # waits of 1 s, 2 s, then 4 s: long enough for the next request to meet it
        let_throttle_time_pass(10)
        sign_in.password(client, adele.upn, WRONG)

    sign_in.password(client, adele.upn)

    row = last_signin()
    assert (row.error_code, row.result) == (codes.THROTTLED, "failure") and row.error_code == 50053


def test_a_one_time_password_is_logged_as_password_change_required(sign_in):
    from watchword.directory.services import create_user

    created = create_user({"upn": "lee.gu@contoso.example", "display_name": "Lee Gu"}, actor="cli")

    sign_in.password(Client(), created.user.upn, created.one_time_password)

    assert (last_signin().error_code, last_signin().result) == (codes.PASSWORD_CHANGE_REQUIRED, "interrupted")


@pytest.mark.parametrize(("state", "code"), [("enabled", 50072), ("enforced", 50079)])
def test_a_person_sent_to_register_is_logged_with_the_registration_code(sign_in, make_person, state, code):
    lee = make_person("Lee Gu", mfa_state=state)

    sign_in.password(Client(), lee.upn)

    row = last_signin()
    assert (row.error_code, row.result, row.step, row.requirement) == (code, "interrupted", "registration",
                                                                       "per_user_mfa")


def test_a_person_asked_for_a_code_is_logged_as_mfa_required(sign_in, adele, adele_app):
    sign_in.password(Client(), adele.upn)

    assert (last_signin().error_code, last_signin().step) == (codes.MFA_REQUIRED, "mfa")


def test_a_wrong_code_is_logged_as_mfa_failed_without_the_code(sign_in, adele, adele_app):
    wrong = adele_app.wrong_code()

    sign_in.with_code(Client(), adele.upn, wrong)

    row = last_signin()
    assert (row.error_code, row.method, row.reason) == (codes.MFA_FAILED, "code", "wrong code")
    assert wrong not in str(SignInEvent.objects.values()) + str(AuditEvent.objects.values())


def test_the_last_allowed_wrong_code_is_logged_as_attempts_exceeded(sign_in, adele, adele_app, settings):
    client = Client()
    sign_in.password(client, adele.upn)
    for _ in range(settings.MFA_CODE_ATTEMPTS):
        client.post("/signin/verify", {"code": adele_app.wrong_code()})

    assert last_signin().error_code == codes.MFA_ATTEMPTS_EXCEEDED == 500121


def test_an_expired_sign_in_is_logged_as_expired(client, sign_in, adele, settings, monkeypatch):
    from django.core import signing

    long_ago = time.time() - settings.SIGNIN_FLOW_SECONDS - 5
    monkeypatch.setattr(signing.time, "time", lambda: long_ago)
    token = sign_in.flow_token(sign_in.name(client, adele.upn))
    monkeypatch.undo()

    client.post("/signin/password", {"password": PASSWORD, "flow": token})

    row = last_signin()
    assert row.error_code == codes.FLOW_EXPIRED == 50058
    assert row.typed_name == adele.upn


def test_a_completed_sign_in_with_a_code_is_logged_as_success_with_the_method(sign_in, adele, adele_app):
    sign_in.with_code(Client(), adele.upn, adele_app.fresh_code())

    row = last_signin()
    assert (row.result, row.step, row.error_code, row.method, row.user_id) == ("success", "complete", None, "totp",
                                                                               adele.pk)


def test_every_step_of_one_sign_in_shares_one_flow_id(sign_in, adele, adele_app):
    client = Client()
    sign_in.password(client, adele.upn)
    client.post("/signin/verify", {"code": adele_app.wrong_code()})
    client.post("/signin/verify", {"code": adele_app.fresh_code()})

    rows = SignInEvent.objects.order_by("id")
    assert [r.error_code for r in rows] == [codes.MFA_REQUIRED, codes.MFA_FAILED, None]
    assert len({r.flow_id for r in rows}) == 1


def test_a_sign_in_row_records_the_address_and_browser(sign_in, adele):
    sign_in.password(Client(REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="Mozilla/5.0 (Edge)"), adele.upn)

    row = last_signin()
    assert (row.ip, row.user_agent) == ("198.51.100.9", "Mozilla/5.0 (Edge)")


def test_no_password_typed_at_sign_in_reaches_either_log(sign_in, adele):
    sign_in.password(Client(), adele.upn, WRONG)
    sign_in.password(Client(), adele.upn)

    logged = str(SignInEvent.objects.values()) + str(AuditEvent.objects.values())
    assert WRONG not in logged and PASSWORD not in logged


def test_every_sign_in_error_code_has_a_description_for_the_log_page():
    defined = {value for name, value in vars(codes).items() if name.isupper() and isinstance(value, int)}

    assert defined == set(codes.DESCRIPTIONS)


def test_the_sign_in_log_page_filters_by_error_code(sign_in, adele, megan):
    sign_in.password(Client(), "nobody@contoso.example", WRONG)
    admin = Client()
    sign_in.password(admin, megan.upn)

    page = admin.get("/admin/signins", {"code": codes.BAD_CREDENTIALS}).content.decode()

    assert "nobody@contoso.example" in page


def test_both_log_pages_show_everything_before_any_filter_is_chosen(sign_in, adele, megan):
    sign_in.password(Client(), "nobody@contoso.example", WRONG)
    admin = Client()
    sign_in.password(admin, megan.upn)

    signins = admin.get("/admin/signins").content.decode()
    audit = admin.get("/admin/audit").content.decode()

    assert "nobody@contoso.example" in signins and "No sign-ins match" not in signins
    assert "user.create" in audit and "No events match these filters" not in audit


# --- append-only -----------------------------------------------------------------------------


@pytest.fixture
def signin_row():
    return record_signin(request=None, flow_id="f1", typed_name="adele.vance@contoso.example", step="password",
                         result="failure", error_code=codes.BAD_CREDENTIALS)


@pytest.fixture
def audit_row(adele):
    return record_change(actor="cli", action="user.update", target=adele, before={"a": 1}, after={"a": 2})


@pytest.mark.parametrize("row", ["signin_row", "audit_row"])
def test_a_saved_log_row_cannot_be_changed(request, row):
    entry = request.getfixturevalue(row)
    entry.reason = "nothing to see here"

    with pytest.raises(RuntimeError, match="append-only"):
        entry.save()

    assert type(entry).objects.get(pk=entry.pk).reason == ""


@pytest.mark.parametrize("row", ["signin_row", "audit_row"])
def test_a_log_row_cannot_be_deleted(request, row):
    entry = request.getfixturevalue(row)

    with pytest.raises(RuntimeError, match="append-only"):
        entry.delete()

    assert type(entry).objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("row", ["signin_row", "audit_row"])
def test_log_rows_cannot_be_changed_in_bulk(request, row):
    entry = request.getfixturevalue(row)

    with pytest.raises(RuntimeError, match="append-only"):
        type(entry).objects.filter(pk=entry.pk).update(reason="nothing to see here")

    assert type(entry).objects.get(pk=entry.pk).reason == ""


@pytest.mark.parametrize("row", ["signin_row", "audit_row"])
def test_log_rows_cannot_be_deleted_in_bulk(request, row):
    entry = request.getfixturevalue(row)

    with pytest.raises(RuntimeError, match="append-only"):
        type(entry).objects.all().delete()

    assert type(entry).objects.filter(pk=entry.pk).exists()
