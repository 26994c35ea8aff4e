"""An admin who has an authenticator must have used it in this session before admin pages open;
an admin without one is reminded to set it up."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_an_admin_with_an_authenticator_is_asked_for_a_code_before_the_admin_pages(megan, enrol, sign_in):
    app = enrol(megan)  # per-user MFA stays Disabled: the password alone signs Megan in
    client = Client()
    sign_in.password(client, megan.upn)
    assert client.get("/myaccount").status_code == 200

    response = client.get("/admin/users")

    assert response.status_code == 302
    assert response["Location"] == "/signin/reverify?next=%2Fadmin%2Fusers"
    client.get(response["Location"])
    done = client.post("/signin/verify", {"code": app.fresh_code()})
    assert done["Location"] == "/admin/users"
    assert client.get("/admin/users").status_code == 200


def test_an_admin_who_signed_in_with_a_code_goes_straight_to_the_admin_pages(megan, enrol, sign_in):
    from watchword.methods.services import set_mfa_state

    set_mfa_state(megan, "enabled", actor="cli", notify=False)
    app = enrol(megan)
    client = Client()
    sign_in.with_code(client, megan.upn, app.fresh_code())

    response = client.get("/admin/users")

    assert response.status_code == 200
    assert "protected by a password only" not in response.content.decode()


def test_an_admin_without_a_second_factor_is_reminded_to_set_one_up(megan, sign_in):
    client = Client()
    sign_in.password(client, megan.upn)

    page = client.get("/admin/users").content.decode()

    assert "Your admin account is protected by a password only." in page
