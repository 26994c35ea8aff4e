"""What every response carries: headers that keep pages out of frames and caches, cookies out
of scripts, and error pages in plain words."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("address", ["/signin", "/myaccount", "/mysecurityinfo", "/admin/users", "/nowhere"])
def test_every_page_forbids_being_framed_and_loading_scripts_from_elsewhere(client, address):
    response = client.get(address)

    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("address", ["/signin", "/signin/password", "/myaccount", "/mysecurityinfo", "/admin/users"])
def test_sign_in_account_and_admin_pages_are_never_cached(client, address):
    assert client.get(address)["Cache-Control"] == "no-store"


def test_the_session_cookie_is_kept_from_scripts_and_other_sites(client, sign_in, adele):
    sign_in.password(client, adele.upn)

    cookie = client.cookies["watchword_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_an_unknown_address_gets_a_plain_not_found_page(client):
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert "There is no page at this address." in response.content.decode()


def test_a_method_a_page_does_not_accept_is_refused_without_a_server_error(client):
    assert client.delete("/signin").status_code == 405
