"""My account → Change password: the current password first, then the new one; other browsers
are signed out, this one stays."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support import PASSWORD
from watchword.audit.models import AuditEvent
from tests.support import ACCOUNT_THRESHOLD

pytestmark = pytest.mark.django_db

NEW = "a brand new long passphrase 9"


@pytest.fixture
def adele_signed_in(adele, sign_in):
    client = Client()
    sign_in.password(client, adele.upn)
    assert client.get("/myaccount").status_code == 200
    return client


def change(client, current: str, new: str = NEW, confirm: str | None = None):
    return client.post("/myaccount/password", {"current_password": current, "new_password": new,
                                               "confirm_password": new if confirm is None else confirm})


def test_a_person_changes_their_password_and_stays_signed_in_here_but_not_elsewhere(adele, sign_in, adele_signed_in):
    elsewhere = Client()
    sign_in.password(elsewhere, adele.upn)
    assert elsewhere.get("/myaccount").status_code == 200

    response = change(adele_signed_in, PASSWORD)

    assert response.status_code == 302 and response["Location"] == "/myaccount"
    assert adele_signed_in.get("/myaccount").status_code == 200
    assert elsewhere.get("/myaccount").status_code == 302
    adele.refresh_from_db()
    assert adele.check_password(NEW)


def test_a_wrong_current_password_changes_nothing_and_is_audited(adele, adele_signed_in):
    response = change(adele_signed_in, "not my password")

    assert response.status_code == 200
    assert "Your current password is incorrect." in response.content.decode()
    adele.refresh_from_db()
    assert adele.check_password(PASSWORD)
    assert AuditEvent.objects.filter(action="user.password.change", result="failure", target_id=str(adele.pk)).exists()


def test_repeated_wrong_current_passwords_make_the_person_wait(adele, adele_signed_in, settings):
    for _ in range(ACCOUNT_THRESHOLD + 1):
        change(adele_signed_in, "not my password")

    response = change(adele_signed_in, PASSWORD)

    assert "Too many wrong passwords" in response.content.decode()
    adele.refresh_from_db()
    assert adele.check_password(PASSWORD)


@pytest.mark.parametrize("new, confirm, message", [
    ("short", None, "too short"),
    (NEW, "something else entirely", "The passwords don&#x27;t match."),
    (PASSWORD, None, "different from the current one"),
])
def test_a_weak_or_mismatched_new_password_is_refused_with_a_reason(adele, adele_signed_in, new, confirm, message):
    response = change(adele_signed_in, PASSWORD, new, confirm)

    assert response.status_code == 200
    assert message in response.content.decode()
    adele.refresh_from_db()
    assert adele.check_password(PASSWORD)


def test_changing_the_password_needs_a_signed_in_person(client):
    response = change(client, PASSWORD)

    assert response.status_code == 302 and response["Location"].startswith("/signin")


def test_wrong_current_passwords_count_like_wrong_passwords_at_sign_in(adele, adele_signed_in, settings, sign_in):
    for _ in range(settings.THROTTLE_PAIR_FREE + 2):  # the last wait is 4 s: long enough to meet
        change(adele_signed_in, "not my password")

    response = sign_in.password(Client(), adele.upn)

    assert "You&#x27;ve tried to sign in too many times" in response.content.decode()
