"""A small organisation for the Conditional Access admin pages: a Global Administrator (Megan),
a Security Administrator (Patti), an Authentication Administrator (Alex), two members of staff
in groups, an OpenID Connect application, a RADIUS client (the VPN), and an office network."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest

from tests.support import SignIn

REDIRECT_URI = "https://wiki.contoso.example/callback"


@dataclass
class Organisation:
    megan: object
    patti: object
    alex: object
    adele: object
    lee: object
    sales: object
    finance: object
    wiki: object  # the OpenID Connect application (its client_id is how policies name it)
    vpn: str  # the RADIUS client, as policies name it
    office: object  # a trusted named location
    branch: object  # a named location that is not trusted


@pytest.fixture
def org(make_person, megan, alex, adele) -> Organisation:
    from watchword.directory.groups import add_member, create_group
    from watchword.policy.services import save_location
    from watchword.protocols.oidc_clients import add_client as add_oidc_client
    from watchword.protocols.services import add_client as add_radius_client

    patti = make_person("Patti Fernandez", role="security_admin")
    lee = make_person("Lee Gu")
    sales, finance = create_group({"name": "Sales"}, actor="cli"), create_group({"name": "Finance"}, actor="cli")
    add_member(sales, adele, actor="cli")
    add_member(finance, lee, actor="cli")
    wiki = add_oidc_client(name="Team wiki", redirect_uris=[REDIRECT_URI], public=True, actor="cli").application
    add_radius_client(name="vpn", address="192.0.2.10", actor="cli")
    office = save_location(name="Head office", ranges=["198.51.100.0/24"], trusted=True, actor="cli")
    branch = save_location(name="Branch", ranges=["203.0.113.0/24"], trusted=False, actor="cli")
    return Organisation(megan=megan, patti=patti, alex=alex, adele=adele, lee=lee, sales=sales, finance=finance,
                        wiki=wiki, vpn="radius:vpn", office=office, branch=branch)


@pytest.fixture
def browser():
    """A browser where the person is signed in with a fresh MFA (as the admin pages ask)."""
    return SignIn.browser_with_fresh_mfa


@pytest.fixture
def patti_browser(org, browser):
    return browser(org.patti)


@pytest.fixture
def megan_browser(org, browser):
    return browser(org.megan)


def page(response) -> str:
    return html.unescape(response.content.decode())


def field_error(response, field: str) -> str:
    match = re.search(rf'id="id_{field}_error" role="alert">(.*?)</p>', page(response), re.S)
    return re.sub(r"<br>", " | ", match.group(1)).strip() if match else ""


def text_of(response) -> str:
    """The page's text, tags removed and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page(response)))
