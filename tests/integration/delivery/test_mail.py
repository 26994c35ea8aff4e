"""The "MFA was turned on" notice: one message, written to the mail folder (the embedded
default), telling the person what to expect; failures are recorded, never a crash."""

from __future__ import annotations

import socket

import pytest

from watchword.audit.models import AuditEvent
from watchword.delivery.services import stored_mail
from watchword.methods.services import set_mfa_state

pytestmark = pytest.mark.django_db


def mail_files(folder) -> list:
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def test_turning_mfa_on_writes_one_message_to_the_mail_folder(mail_folder, adele, megan):
    set_mfa_state(adele, "enabled", actor=megan)

    assert len(mail_files(mail_folder)) == 1


def test_the_notice_tells_the_person_about_more_information_required(mail_folder, adele, megan):
    set_mfa_state(adele, "enabled", actor=megan)

    [message] = stored_mail()
    assert message.to == "adele.vance@contoso.example"
    assert "your account now needs a second sign-in step" in message.subject
    assert 'you will see\n"More information required". Select Next' in message.body
    assert "Hello Adele Vance," in message.body


def test_enforcing_mfa_straight_from_disabled_also_sends_the_notice(mail_folder, adele, megan):
    set_mfa_state(adele, "enforced", actor=megan)

    assert len(mail_files(mail_folder)) == 1


def test_moving_from_enabled_to_enforced_sends_no_second_notice(mail_folder, adele, megan):
    set_mfa_state(adele, "enabled", actor=megan)

    set_mfa_state(adele, "enforced", actor=megan)

    assert len(mail_files(mail_folder)) == 1


def test_setting_the_state_a_person_already_has_sends_nothing(mail_folder, adele, megan):
    set_mfa_state(adele, "disabled", actor=megan)

    assert mail_files(mail_folder) == []


def test_turning_mfa_off_sends_nothing(mail_folder, make_person, megan):
    lee = make_person("Lee Gu", mfa_state="enabled")

    set_mfa_state(lee, "disabled", actor=megan)

    assert mail_files(mail_folder) == []


def test_an_admin_can_turn_mfa_on_without_sending_the_notice(mail_folder, adele, megan):
    set_mfa_state(adele, "enabled", actor=megan, notify=False)

    assert mail_files(mail_folder) == []


def test_a_person_without_an_e_mail_address_gets_no_message_and_the_audit_log_says_why(mail_folder, make_person, megan):
    lee = make_person("Lee Gu", email="")

    set_mfa_state(lee, "enabled", actor=megan)

    assert mail_files(mail_folder) == []
    event = AuditEvent.objects.get(action="mail.mfa_enabled", target_id=str(lee.pk))
    assert (event.result, event.reason) == ("skipped", "the person has no e-mail address")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket is


def test_a_mail_server_that_refuses_the_connection_is_recorded_and_mfa_is_still_turned_on(settings, adele, megan):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT = (
        "127.0.0.1", closed_port(), False, 2)

    user = set_mfa_state(adele, "enabled", actor=megan)

    assert user.mfa_state == "enabled"
    event = AuditEvent.objects.get(action="mail.mfa_enabled", target_id=str(adele.pk))
    assert event.result == "failure" and event.reason


def test_the_admin_mail_page_shows_the_notice(mail_folder, client, sign_in, adele, megan):
    set_mfa_state(adele, "enabled", actor=megan)
    sign_in.password(client, megan.upn)

    page = client.get("/admin/mail").content.decode()

    assert "To adele.vance@contoso.example" in page
    assert "More information required" in page


def test_a_bulk_enable_sends_each_person_one_notice(mail_folder, client, sign_in, make_person, megan):
    people = [make_person(name) for name in ("Lee Gu", "Lynne Robbins", "Nestor Wilke")]
    sign_in.password(client, megan.upn)

    client.post("/admin/users", {"action": "enable", "user": [str(p.pk) for p in people]})

    assert len(mail_files(mail_folder)) == 3
    assert {m.to for m in stored_mail()} == {p.email for p in people}


def test_a_bulk_enable_with_the_mail_server_down_still_turns_mfa_on_and_records_each_failure(
        settings, client, sign_in, make_person, megan):
    people = [make_person(name) for name in ("Lee Gu", "Lynne Robbins")]
    sign_in.password(client, megan.upn)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT = (
        "127.0.0.1", closed_port(), False, 2)

    response = client.post("/admin/users", {"action": "enable", "user": [str(p.pk) for p in people]})

    assert response.status_code == 302
    for person in people:
        person.refresh_from_db()
        assert person.mfa_state == "enabled"
        assert AuditEvent.objects.get(action="mail.mfa_enabled", target_id=str(person.pk)).result == "failure"
