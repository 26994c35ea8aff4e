"""Admin actions that take something away ask first: the confirmation page changes nothing; only
its POST acts. The same holds for deleting one's own sign-in method."""

from __future__ import annotations

import pytest
from django.test import Client

from watchword.methods.models import Method

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(megan, sign_in):
    client = Client()
    sign_in.password(client, megan.upn)
    return client


@pytest.mark.parametrize("action, heading", [
    ("reregister", "Require re-registration?"),
    ("revoke", "Revoke MFA sessions?"),
    ("reset-password", "Reset password?"),
    ("disable", "Disable the account?"),
])
def test_the_confirmation_page_says_what_will_happen_and_changes_nothing(admin_client, adele, enrol, action, heading):
    enrol(adele)
    before = (adele.password, adele.session_epoch, adele.is_active)

    response = admin_client.get(f"/admin/users/{adele.pk}/{action}")

    assert response.status_code == 200
    page = response.content.decode()
    assert heading in page and "Adele Vance" in page
    adele.refresh_from_db()
    assert (adele.password, adele.session_epoch, adele.is_active) == before
    assert Method.objects.filter(user=adele).count() == 1


def test_confirming_require_re_registration_removes_the_methods(admin_client, adele, enrol):
    enrol(adele)

    response = admin_client.post(f"/admin/users/{adele.pk}/reregister")

    assert response.status_code == 302
    assert not Method.objects.filter(user=adele).exists()


def test_deleting_a_method_asks_first_and_the_question_deletes_nothing(adele, enrol, sign_in):
    app = enrol(adele)
    client = Client()
    sign_in.password(client, adele.upn)
    sign_in.make_mfa_fresh(client)

    response = client.get(f"/mysecurityinfo/methods/{app.method.pk}/delete")

    assert response.status_code == 200
    assert "Delete authenticator app?" in response.content.decode()
    assert Method.objects.filter(pk=app.method.pk).exists()
    client.post(f"/mysecurityinfo/methods/{app.method.pk}/delete")
    assert not Method.objects.filter(pk=app.method.pk).exists()
