"""Admin → RADIUS: list, add with a generated or given secret (shown once), remove with a
confirm step; people without an admin role are kept out."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from watchword.audit.models import AuditEvent
from watchword.protocols.models import RadiusClient
from watchword.protocols.services import secret_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(megan, sign_in):
    client = Client()
    response = sign_in.password(client, megan.upn)
    assert response.status_code == 302, response
    return client


def test_an_admin_adds_a_client_and_sees_the_generated_secret_once(admin_browser):
    page = admin_browser.get("/admin/radius")
    assert page.status_code == 200 and b'href="/admin/radius" aria-current="page">RADIUS' in page.content
    response = admin_browser.post("/admin/radius", {"name": "vpn-1", "address": "192.0.2.10",
                                                    "secret_choice": "generate"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = re.search(rb'id="radius-secret">([^<]+)<', response.content).group(1).decode()
    client = RadiusClient.objects.get(name="vpn-1")
    assert len(secret) >= 16 and secret_of(client) == secret.encode() and secret not in client.secret_sealed
    listing = admin_browser.get("/admin/radius").content.decode()
    assert "vpn-1" in listing and secret not in listing
    assert AuditEvent.objects.filter(action="radius.client.add").exists()


def test_a_given_secret_that_is_too_short_or_a_bad_address_is_refused(admin_browser):
    response = admin_browser.post("/admin/radius", {"name": "vpn-1", "address": "192.0.2.10",
                                                    "secret_choice": "given", "secret": "short"})
    assert response.status_code == 400 and b"at least 16 characters" in response.content
    response = admin_browser.post("/admin/radius", {"name": "vpn-1", "address": "vpn.example",
                                                    "secret_choice": "generate"})
    assert response.status_code == 400 and b"not an IP address or CIDR network" in response.content
    assert not RadiusClient.objects.exists()


def test_removing_asks_first(admin_browser):
    admin_browser.post("/admin/radius", {"name": "vpn-1", "address": "192.0.2.0/24", "secret_choice": "generate"})
    client = RadiusClient.objects.get(name="vpn-1")
    confirm = admin_browser.get(f"/admin/radius/{client.pk}/remove")
    assert confirm.status_code == 200 and b"Sign-ins from this NAS will be refused" in confirm.content
    assert RadiusClient.objects.exists()
    response = admin_browser.post(f"/admin/radius/{client.pk}/remove")
    assert response.status_code == 302 and not RadiusClient.objects.exists()
    assert admin_browser.get("/admin/radius/9999/remove").status_code == 404


def test_people_without_an_admin_role_are_kept_out(adele, sign_in):
    client = Client()
    sign_in.password(client, adele.upn)
    assert client.get("/admin/radius").status_code == 403
    assert client.post("/admin/radius", {"name": "x", "address": "192.0.2.1"}).status_code == 403
    assert not RadiusClient.objects.exists()


def test_authentication_administrators_cannot_manage_radius_clients(alex, sign_in):
    """A RADIUS client may send sign-ins for anyone: adding one is a Global Administrator's call."""
    helpdesk = Client()
    assert sign_in.password(helpdesk, alex.upn).status_code == 302
    assert helpdesk.get("/admin/radius").status_code == 403
    response = helpdesk.post("/admin/radius", {"name": "vpn-1", "address": "192.0.2.10", "secret_choice": "generate"})
    assert response.status_code == 403 and not RadiusClient.objects.exists()
    assert b'href="/admin/radius"' not in helpdesk.get("/admin/users").content
