"""Conditional Access through real sign-ins: blocking and report-only, named locations, exclusions,
policies for one application (the admin pages, an OpenID Connect application, a RADIUS client),
authentication strengths, the session controls, and the user action "register security info".
Each sign-in's log row lists the policies' parts in it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from pyrad import packet as rp

from tests.integration.signin.pages import asked_for_code, is_signed_in, text_of, went_to
from tests.integration.protocols.oidc_support import (  # noqa: F401 (fixtures)
    authorize_path,
    code_from,
    pkce_pair,
    public_app,
    sign_in_through,
)
from tests.integration.protocols.radius_support import access_request, read_reply
from tests.support import PASSWORD, SignIn
from watchword.audit.models import SignInEvent
from watchword.directory.groups import add_member, create_group
from watchword.policy import services
from watchword.policy.document import ACTION_REGISTER, ALL_TRUSTED, APP_ADMIN
from watchword.policy.errors import PolicyInvalid
from watchword.policy.strengths import FACTOR_CODE, FACTOR_PUSH, MFA, PHISHING_RESISTANT_MFA
from watchword.protocols import radius
from watchword.protocols import services as radius_clients

pytestmark = pytest.mark.django_db

REPORT_ONLY = "enabledForReportingButNotEnforced"
OFFICE_RANGE = "198.51.100.0/24"
AT_THE_OFFICE = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
RADIUS_SECRET = "correct-horse-battery-staple"
NAS_IP = "192.0.2.10"


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    services.forget_cache()
    yield
    services.forget_cache()


@pytest.fixture
def sales(adele):
    group = create_group({"name": "Sales"}, actor="cli")
    add_member(group, adele, actor="cli")
    return group


@pytest.fixture
def office():
    return services.save_location(name="Head office", ranges=[OFFICE_RANGE], trusted=True, actor="cli")


def save_policy(name: str, *, state: str = "enabled", users: dict | None = None, apps: dict | None = None,
                grant: dict | None = None, session: dict | None = None, **conditions):
    document = {"displayName": name, "state": state,
                "conditions": {"users": users or {"includeUsers": ["All"]},
                               "applications": apps or {"includeApplications": ["All"]}, **conditions}}
    if grant is not None:
        document["grantControls"] = grant
    if session is not None:
        document["sessionControls"] = session
    return services.save_policy(document, actor="cli")[0]


BLOCK = {"operator": "OR", "builtInControls": ["block"]}
REQUIRE_MFA = {"operator": "OR", "builtInControls": ["mfa"]}


def strength(strength_id: str) -> dict:
    return {"operator": "OR", "authenticationStrength": {"id": strength_id}}




def part_of(policy, event) -> dict:
    """The policy's entry in a sign-in log row's Conditional Access results."""
    entries = [entry for entry in event.conditional_access or [] if entry["id"] == str(policy.pk)]
    assert len(entries) == 1, event.conditional_access
    return entries[0]


def step_up_next(response) -> str:
    assert response.status_code == 302, response.content[:300]
    target = urlsplit(response["Location"])
    assert target.path == "/signin/step-up", response["Location"]
    return parse_qs(target.query)["next"][0]


# --- block and report-only --------------------------------------------------------------------


def test_an_enabled_block_policy_for_a_group_refuses_its_members(client, sign_in, adele, sales):
    save_policy("Block Sales", users={"includeGroups": [str(sales.pk)]}, grant=BLOCK)

    response = sign_in.password(client, adele.upn)

    assert response.status_code == 403
    assert "You cannot access this right now" in text_of(response)
    assert not is_signed_in(client)


def test_a_block_policy_for_a_group_lets_people_outside_it_in(client, sign_in, adele, sales, make_person):
    lee = make_person("Lee Gu")
    save_policy("Block Sales", users={"includeGroups": [str(sales.pk)]}, grant=BLOCK)

    sign_in.password(client, lee.upn)

    assert is_signed_in(client)


def test_a_blocked_sign_in_is_logged_with_53003_and_the_policy_applied_with_block(client, sign_in, adele, sales):
    policy = save_policy("Block Sales", users={"includeGroups": [str(sales.pk)]}, grant=BLOCK)

    sign_in.password(client, adele.upn)

    event = SignInEvent.objects.get(user=adele, step="policy")
    assert (event.result, event.error_code) == ("failure", 53003)
    assert event.requirement == f"conditional_access:{policy.pk}"
    assert part_of(policy, event) == {"id": str(policy.pk), "displayName": "Block Sales", "reportOnly": False,
                                      "result": "applied", "controls": ["block"], "conditionNotSatisfied": ""}
    assert event.client_app == "browser"


def test_a_report_only_block_policy_lets_the_person_in(client, sign_in, adele, sales):
    save_policy("Block Sales", state=REPORT_ONLY, users={"includeGroups": [str(sales.pk)]}, grant=BLOCK)

    response = sign_in.password(client, adele.upn)

    assert went_to(response) == "/myaccount"
    assert is_signed_in(client)


def test_a_report_only_block_policy_is_logged_as_would_block(client, sign_in, adele, sales):
    policy = save_policy("Block Sales", state=REPORT_ONLY, users={"includeGroups": [str(sales.pk)]}, grant=BLOCK)

    sign_in.password(client, adele.upn)

    event = SignInEvent.objects.get(user=adele, step="complete")
    assert event.result == "success"
    entry = part_of(policy, event)
    assert (entry["result"], entry["reportOnly"], entry["controls"]) == ("reportOnlyWouldBlock", True, ["block"])


# --- who: exclusions beat inclusions ----------------------------------------------------------


def test_excluding_a_group_beats_including_another_the_person_is_in(client, sign_in, adele, sales):
    contractors = create_group({"name": "Contractors"}, actor="cli")
    add_member(contractors, adele, actor="cli")
    policy = save_policy("Block Sales but not contractors",
                         users={"includeGroups": [str(sales.pk)], "excludeGroups": [str(contractors.pk)]}, grant=BLOCK)

    sign_in.password(client, adele.upn)

    assert is_signed_in(client)
    entry = part_of(policy, SignInEvent.objects.get(user=adele, step="complete"))
    assert (entry["result"], entry["conditionNotSatisfied"]) == ("notApplied", "users: excluded by group membership")


# --- where: named locations -------------------------------------------------------------------


@pytest.fixture
def mfa_outside_the_office(office):
    return save_policy("MFA outside the office", grant=REQUIRE_MFA,
                       locations={"includeLocations": ["All"], "excludeLocations": [str(office.pk)]})


def test_from_inside_a_trusted_named_location_the_password_is_enough(sign_in, adele, enrol, mfa_outside_the_office):
    enrol(adele)
    browser = Client(REMOTE_ADDR=AT_THE_OFFICE)

    response = sign_in.password(browser, adele.upn)

    assert went_to(response) == "/myaccount"
    assert is_signed_in(browser)


def test_from_outside_a_trusted_named_location_a_code_is_asked_for(sign_in, adele, enrol, mfa_outside_the_office):
    enrol(adele)
    browser = Client(REMOTE_ADDR=ELSEWHERE)

    response = sign_in.password(browser, adele.upn)

    assert asked_for_code(response)
    assert not is_signed_in(browser)


def test_excluding_all_trusted_locations_works_like_naming_the_trusted_location(sign_in, adele, enrol, office):
    enrol(adele)
    save_policy("MFA outside trusted places", grant=REQUIRE_MFA,
                locations={"includeLocations": ["All"], "excludeLocations": [ALL_TRUSTED]})

    assert went_to(sign_in.password(Client(REMOTE_ADDR=AT_THE_OFFICE), adele.upn)) == "/myaccount"
    assert asked_for_code(sign_in.password(Client(REMOTE_ADDR=ELSEWHERE), adele.upn))


# --- which application ------------------------------------------------------------------------


@pytest.fixture
def mfa_for_the_admin_pages(megan, enrol):
    authenticator = enrol(megan)
    save_policy("MFA for the admin pages", apps={"includeApplications": [APP_ADMIN]}, grant=REQUIRE_MFA)
    return authenticator


def test_a_policy_for_the_admin_pages_does_not_ask_for_mfa_to_sign_in_to_my_account(
        client, sign_in, megan, mfa_for_the_admin_pages):
    response = sign_in.password(client, megan.upn)

    assert went_to(response) == "/myaccount"
    assert is_signed_in(client)
    assert client.session["watchword_amr"] == ["pwd"]


def test_a_policy_for_the_admin_pages_sends_a_password_only_session_to_step_up_there(
        client, sign_in, megan, mfa_for_the_admin_pages):
    sign_in.password(client, megan.upn)

    response = client.get("/admin/users")

    assert step_up_next(response) == "/admin/users"


def test_after_the_step_up_the_admin_pages_open(client, sign_in, megan, mfa_for_the_admin_pages):
    sign_in.password(client, megan.upn)
    next_url = step_up_next(client.get("/admin/users"))
    assert client.get(f"/signin/step-up?next={next_url}")["Location"] == "/signin/verify"
    assert asked_for_code(client.get("/signin/verify"))

    response = client.post("/signin/verify", {"code": mfa_for_the_admin_pages.fresh_code()})

    assert response.status_code == 302 and response["Location"] == "/admin/users"
    assert client.get("/admin/users").status_code == 200


def test_a_policy_for_an_oidc_application_sends_a_password_only_session_to_step_up(
        client, sign_in, adele, enrol, public_app):
    enrol(adele)
    save_policy("MFA for the wiki", apps={"includeApplications": [public_app.client_id]}, grant=REQUIRE_MFA)
    sign_in.password(client, adele.upn)  # to My account: the password is enough there
    assert is_signed_in(client) and client.session["watchword_amr"] == ["pwd"]
    _, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)

    response = client.get(path)

    assert step_up_next(response) == path


def test_after_the_step_up_the_oidc_application_gets_its_code(client, sign_in, adele, enrol, public_app):
    authenticator = enrol(adele)
    save_policy("MFA for the wiki", apps={"includeApplications": [public_app.client_id]}, grant=REQUIRE_MFA)
    sign_in.password(client, adele.upn)
    _, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    next_url = step_up_next(client.get(path))
    client.get("/signin/step-up", {"next": next_url})
    assert asked_for_code(client.get("/signin/verify"))

    response = client.post("/signin/verify", {"code": authenticator.fresh_code()})

    assert response["Location"] == path
    assert code_from(client.get(path))


@pytest.fixture
def radius_server():
    radius_clients.add_client(name="vpn-1", address="192.0.2.0/28", secret=RADIUS_SECRET, actor="cli")
    server = radius.Server("127.0.0.1", 0, push_timeout=2)
    yield server
    server.stop()


def ask_radius(server, name: str, password: str):
    request, raw = access_request(RADIUS_SECRET.encode(), name, password, calling_station=ELSEWHERE)
    reply = server.handle(raw, NAS_IP)
    assert reply is not None
    return read_reply(request, reply)


def test_a_radius_client_targeted_by_a_block_policy_gets_access_reject(radius_server, adele):
    save_policy("Block the VPN", apps={"includeApplications": ["radius:vpn-1"]}, grant=BLOCK)

    code, message, _ = ask_radius(radius_server, adele.upn, PASSWORD)

    assert code == rp.AccessReject
    assert message == "Your sign-in was blocked. Contact your administrator."


def test_a_radius_sign_in_refused_by_a_block_policy_is_logged_with_the_policy(radius_server, adele):
    policy = save_policy("Block the VPN", apps={"includeApplications": ["radius:vpn-1"]}, grant=BLOCK)

    ask_radius(radius_server, adele.upn, PASSWORD)

    event = SignInEvent.objects.get(user=adele, step="policy")
    assert (event.app, event.result, event.error_code, event.client_app) == ("radius:vpn-1", "failure", 53003,
                                                                             "radius")
    entry = part_of(policy, event)
    assert (entry["result"], entry["controls"]) == ("applied", ["block"])


def test_a_block_policy_for_a_radius_client_leaves_the_web_sign_in_alone(client, sign_in, radius_server, adele):
    save_policy("Block the VPN", apps={"includeApplications": ["radius:vpn-1"]}, grant=BLOCK)

    sign_in.password(client, adele.upn)

    assert is_signed_in(client)


# --- authentication strengths -----------------------------------------------------------------


@pytest.fixture
def push_only():
    row = services.save_strength(name="Authenticator notifications", combinations=[FACTOR_PUSH], actor="cli")
    save_policy("Notifications only", grant=strength(str(row.pk)))
    return row


def test_a_push_only_strength_sends_a_person_with_only_codes_to_register(client, sign_in, adele, enrol, push_only):
    enrol(adele)

    response = sign_in.password(client, adele.upn)

    assert went_to(response) == "/signin/more-information"
    assert "More information required" in text_of(response)


def test_a_push_only_strength_offers_only_the_authenticator_app_with_notifications(
        client, sign_in, adele, enrol, push_only):
    enrol(adele)
    sign_in.password(client, adele.upn)
    assert client.post("/signin/more-information")["Location"] == "/signin/register"

    wizard = client.get("/signin/register")

    assert "Watchword Authenticator" in text_of(wizard)
    assert "kind=totp" not in wizard.content.decode()
    assert "kind=phone" not in wizard.content.decode()
    refused = client.post("/signin/register?step=app", {"kind": "totp"})
    assert refused.status_code == 403


def test_the_phishing_resistant_strength_blocks_with_the_cannot_offer_you_yet_message(client, sign_in, adele, enrol):
    enrol(adele)
    save_policy("Phishing-resistant for everyone", grant=strength(PHISHING_RESISTANT_MFA.id))

    response = sign_in.password(client, adele.upn)

    assert response.status_code == 403
    assert "requires a way of signing in that Watchword can't offer you yet" in text_of(response)
    assert not is_signed_in(client)


def test_require_mfa_or_an_authentication_strength_cannot_be_one_policy(adele):
    # As the reference: "Require MFA" and an authentication strength can't be in the same policy;
    # "MFA or phishing-resistant" is a strength listing both (next test).
    with pytest.raises(PolicyInvalid):
        save_policy("MFA or phishing-resistant", grant={"operator": "OR", "builtInControls": ["mfa"],
                                                         "authenticationStrength": {"id": PHISHING_RESISTANT_MFA.id}})


def test_a_strength_allowing_mfa_or_phishing_resistant_methods_lets_a_code_through(client, sign_in, adele, enrol):
    authenticator = enrol(adele)
    either = services.save_strength(name="MFA or phishing-resistant", actor="cli",
                                    combinations=sorted(MFA.combinations | PHISHING_RESISTANT_MFA.combinations))
    save_policy("MFA or phishing-resistant", grant=strength(str(either.pk)))
    assert asked_for_code(sign_in.password(client, adele.upn))

    response = client.post("/signin/verify", {"code": authenticator.fresh_code()})

    assert response["Location"] == "/myaccount"
    assert is_signed_in(client)


def test_the_built_in_mfa_strength_lets_a_code_through(client, sign_in, adele, enrol):
    authenticator = enrol(adele)
    save_policy("MFA strength", grant=strength(MFA.id))
    assert FACTOR_CODE in MFA.combinations
    assert asked_for_code(sign_in.password(client, adele.upn))

    client.post("/signin/verify", {"code": authenticator.fresh_code()})

    assert is_signed_in(client)


# --- session controls -------------------------------------------------------------------------


def test_after_the_sign_in_frequency_runs_out_my_account_sends_the_person_to_sign_in_again(client, sign_in, adele):
    save_policy("Sign in every hour", session={"signInFrequency": {"isEnabled": True, "type": "hours", "value": 1}})
    sign_in.password(client, adele.upn)
    assert is_signed_in(client)
    session = client.session
    session["watchword_auth_time"] -= 2 * 3600
    session.save()

    response = client.get("/myaccount")

    assert response.status_code == 302 and response["Location"] == "/signin?next=%2Fmyaccount"
    assert not is_signed_in(client)


def test_within_the_sign_in_frequency_the_session_goes_on(client, sign_in, adele):
    save_policy("Sign in every hour", session={"signInFrequency": {"isEnabled": True, "type": "hours", "value": 1}})
    sign_in.password(client, adele.upn)
    session = client.session
    session["watchword_auth_time"] -= 30 * 60
    session.save()

    assert is_signed_in(client)


def test_persistent_browser_never_ends_the_session_when_the_browser_closes(client, sign_in, adele, settings):
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = False  # so that it is the policy that decides
    save_policy("No persistent sessions", session={"persistentBrowser": {"isEnabled": True, "mode": "never"}})

    sign_in.password(client, adele.upn)

    assert client.session.get_expire_at_browser_close()
    assert not client.cookies[settings.SESSION_COOKIE_NAME]["max-age"]


def test_persistent_browser_always_keeps_the_session_after_the_browser_closes(client, sign_in, adele):
    save_policy("Persistent sessions", session={"persistentBrowser": {"isEnabled": True, "mode": "always"}})

    sign_in.password(client, adele.upn)

    assert not client.session.get_expire_at_browser_close()


# --- the user action "register security info" -------------------------------------------------


@pytest.fixture
def registration_from_trusted_places_only(office):
    return save_policy("Register security info at the office only", grant=BLOCK,
                       apps={"includeUserActions": [ACTION_REGISTER]},
                       locations={"includeLocations": ["All"], "excludeLocations": [ALL_TRUSTED]})


def start_registration(browser, sign_in, person):
    assert went_to(sign_in.password(browser, person.upn)) == "/signin/more-information"
    assert browser.post("/signin/more-information")["Location"] == "/signin/register"


def test_registering_security_info_from_a_trusted_location_is_allowed(sign_in, make_person,
                                                                      registration_from_trusted_places_only):
    lee = make_person("Lee Gu", mfa_state="enabled")
    browser = Client(REMOTE_ADDR=AT_THE_OFFICE)
    start_registration(browser, sign_in, lee)

    wizard = browser.get("/signin/register")

    assert wizard.status_code == 200 and "Keep your account secure" in text_of(wizard)


def test_registering_security_info_from_elsewhere_is_blocked_by_a_user_action_policy(
        sign_in, make_person, registration_from_trusted_places_only):
    lee = make_person("Lee Gu", mfa_state="enabled")
    browser = Client(REMOTE_ADDR=ELSEWHERE)
    start_registration(browser, sign_in, lee)

    wizard = browser.get("/signin/register")

    assert wizard.status_code == 403
    assert "You cannot access this right now" in text_of(wizard)


def test_over_radius_a_push_only_strength_refuses_a_code_typed_after_the_password(radius_server, adele,
                                                                                     enrol_device):
    import pyotp

    device = enrol_device(adele)
    row = services.save_strength(name="Notifications only", combinations=[FACTOR_PUSH], actor="cli")
    save_policy("VPN: notifications only", apps={"includeApplications": ["radius:vpn-1"]},
                grant=strength(str(row.pk)))

    code, message, _ = ask_radius(radius_server, adele.upn, f"{PASSWORD},{pyotp.TOTP(device.secret).now()}")

    assert code == rp.AccessReject
    assert "sign in with your password alone" in message.lower()
    assert not SignInEvent.objects.filter(user=adele, step="complete", result="success").exists()


def test_over_radius_a_code_typed_after_the_password_still_works_when_the_policies_accept_codes(
        radius_server, adele, enrol_device):
    import pyotp

    device = enrol_device(adele)
    save_policy("VPN: MFA", apps={"includeApplications": ["radius:vpn-1"]}, grant=REQUIRE_MFA)

    code, _, _ = ask_radius(radius_server, adele.upn, f"{PASSWORD},{pyotp.TOTP(device.secret).now()}")

    assert code == rp.AccessAccept


# --- client app types -------------------------------------------------------------------------


def test_a_native_apps_sign_in_counts_as_a_mobile_or_desktop_client(client, adele):
    from watchword.protocols.oidc_clients import add_client

    native = add_client(name="Desktop mail", redirect_uris=["http://127.0.0.1/callback"], public=True, actor="cli")
    save_policy("Block desktop apps", grant=BLOCK, clientAppTypes=["mobileAppsAndDesktopClients"])
    _, challenge = pkce_pair()

    path = authorize_path(native.client_id, challenge=challenge, redirect_uri="http://127.0.0.1/callback")
    next_url = parse_qs(urlsplit(client.get(path)["Location"]).query)["next"][0]
    page = client.post("/signin", {"name": adele.upn, "next": next_url})

    response = client.post("/signin/password", {"password": PASSWORD, "flow": SignIn.flow_token(page)})

    assert response.status_code == 403
    assert SignInEvent.objects.get(user=adele, step="policy").client_app == "mobileAppsAndDesktopClients"


def test_a_web_applications_sign_in_counts_as_a_browser(client, adele, public_app):
    save_policy("Block desktop apps", grant=BLOCK, clientAppTypes=["mobileAppsAndDesktopClients"])
    _, challenge = pkce_pair()

    response = sign_in_through(client, authorize_path(public_app.client_id, challenge=challenge), adele.upn)

    assert response.status_code == 302
    assert SignInEvent.objects.get(user=adele, step="complete").client_app == "browser"
