"""Whatever arrives in a request (over-long values, NUL characters, bytes that are not UTF-8, a
body over the upload limit, a missing CSRF token), every form answers with a page, never a
server error (500)."""

from __future__ import annotations

import pytest
from django.test import Client

from watchword.directory.models import MfaState, User
from watchword.directory.groups import create_group
from watchword.directory.services import create_user

pytestmark = pytest.mark.django_db

USER_FIELDS = ["upn", "display_name", "email", "office_phone", "mobile_phone", "role"]

# form → (address, the fields it reads)
FORMS = {
    "sign-in name": ("/signin", ["name", "next"]),
    "password": ("/signin/password", ["password"]),
    "new password": ("/signin/password/change", ["new_password", "confirm_password"]),
    "code": ("/signin/verify", ["code"]),
    "registration code": ("/signin/register?step=code", ["code"]),
    "new user": ("/admin/users/new", USER_FIELDS),
    "user properties": ("/admin/users/{adele}", USER_FIELDS),
    "bulk MFA": ("/admin/users", ["action", "user", "back"]),
    "MFA state": ("/admin/users/{adele}/mfa-state", ["mfa_state"]),
    "CSV import": ("/admin/users/import", ["file"]),
    "default method": ("/mysecurityinfo/default", ["method"]),
    "add authenticator code": ("/mysecurityinfo/add/authenticator?step=code", ["code"]),
    "sign out": ("/signout", []),
    "change password": ("/myaccount/password", ["current_password", "new_password", "confirm_password"]),
    "new group": ("/admin/groups", ["name", "description"]),
    "group members": ("/admin/groups/{group}", ["action", "member"]),
    "reset password": ("/admin/users/{adele}/reset-password", []),
    "cancel sign-in": ("/signin/cancel", []),
}


class People:
    """The people the forms need, each created on first use: Adele (per-user MFA on, an
    authenticator registered), Megan (Global Administrator), Lee (just created, one-time
    password) and Diego (per-user MFA on, nothing registered yet)."""

    def __init__(self, make_person, enrol):
        self._make_person, self._enrol, self._made = make_person, enrol, {}

    def _once(self, name, build):
        if name not in self._made:
            self._made[name] = build()
        return self._made[name]

    @property
    def adele(self):
        return self._once("adele", lambda: self._make_person("Adele Vance", mfa_state="enabled"))

    @property
    def adele_app(self):
        return self._once("app", lambda: self._enrol(self.adele))

    @property
    def megan(self):
        return self._once("megan", lambda: self._make_person("Megan Bowen", role="global_admin"))

    @property
    def lee(self):
        return self._once("lee", lambda: create_user({"upn": "lee.gu@contoso.example", "display_name": "Lee Gu"},
                                                     actor="cli"))

    @property
    def finance(self):
        return self._once("finance", lambda: create_group({"name": "Finance"}, actor="cli"))

    @property
    def diego(self):
        return self._once("diego", lambda: self._make_person("Diego Siciliani", mfa_state="enabled"))


@pytest.fixture
def people(make_person, enrol):
    return People(make_person, enrol)


@pytest.fixture
def at_form(people, sign_in):
    """A browser brought to the point where ``form`` is the next thing to post."""

    def prepare(form: str) -> tuple[Client, str]:
        client = Client()
        if form == "password":
            sign_in.name(client, "adele.vance@contoso.example")
        elif form == "new password":
            sign_in.password(client, people.lee.user.upn, people.lee.one_time_password)
        elif form == "code":
            people.adele_app  # registered, so Adele is asked for a code
            sign_in.password(client, people.adele.upn)
        elif form == "registration code":
            sign_in.password(client, people.diego.upn)
            client.post("/signin/more-information")
            client.post("/signin/register?step=app", {"kind": "totp"})
        elif form in ("new user", "user properties", "bulk MFA", "MFA state", "CSV import", "new group",
                      "group members", "reset password"):
            sign_in.password(client, people.megan.upn)
        elif form in ("default method", "add authenticator code", "sign out", "change password"):
            sign_in.with_code(client, people.adele.upn, people.adele_app.fresh_code())
            client.post("/mysecurityinfo/add/authenticator?step=app", {"kind": "totp"})
        address, _ = FORMS[form]
        if "{adele}" in address:
            address = address.format(adele=people.adele.pk)
        if "{group}" in address:
            address = address.format(group=people.finance.pk)
        return client, address

    return prepare


def payloads():
    for form, (_, fields) in FORMS.items():
        yield pytest.param(form, {field: "x" * 100_000 for field in fields}, id=f"{form}: over-long")
        yield pytest.param(form, {field: "adele\x00vance" for field in fields}, id=f"{form}: NUL")
        yield pytest.param(form, {field: "\u202e\u0007\x1b[2J" for field in fields}, id=f"{form}: controls")


@pytest.mark.parametrize(("form", "data"), list(payloads()))
def test_a_form_posted_with_hostile_values_answers_without_a_server_error(at_form, form, data):
    client, address = at_form(form)

    response = client.post(address, data)

    assert response.status_code < 500


@pytest.mark.parametrize("form", FORMS)
def test_a_form_posted_with_bytes_that_are_not_utf8_answers_without_a_server_error(at_form, form):
    client, address = at_form(form)
    fields = FORMS[form][1] or ["x"]
    # %ED%A0%80 is how a lone surrogate (U+D800) would arrive: bytes that are not valid UTF-8.
    body = b"&".join(field.encode() + b"=%FF%FE%C3%28%ED%A0%80\xff\xfe" for field in fields)

    response = client.post(address, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code < 500


@pytest.mark.parametrize("form", FORMS)
def test_a_multipart_body_that_is_not_utf8_answers_without_a_server_error(at_form, form):
    client, address = at_form(form)
    body = (b"--b\r\nContent-Disposition: form-data; name=\"\xff\xfe\"\r\n\r\n\xc3\x28\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\xff.csv\"\r\n\r\n\xff\xfe\r\n--b--\r\n")

    response = client.post(address, body, content_type="multipart/form-data; boundary=b")

    assert response.status_code < 500


@pytest.mark.parametrize("form", [form for form, (_, fields) in FORMS.items() if fields])
def test_a_body_over_the_upload_limit_is_refused_as_a_bad_request(at_form, form, settings):
    client, address = at_form(form)
    fields = FORMS[form][1]

    response = client.post(address, {fields[0]: "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    assert response.status_code == 400


@pytest.mark.parametrize("form", FORMS)
def test_a_form_posted_without_its_csrf_token_is_refused_with_page_expired(at_form, form):
    client, address = at_form(form)
    cross_site = Client(enforce_csrf_checks=True)
    cross_site.cookies = client.cookies  # the victim's browser, posting from another site's page

    response = cross_site.post(address, {field: "1" for field in FORMS[form][1]})

    assert response.status_code == 403
    assert "This page expired" in response.content.decode()


def test_a_cross_site_post_cannot_change_a_persons_mfa_state(at_form, people):
    people.adele_app  # registered, so Adele is Enforced
    client, address = at_form("MFA state")
    cross_site = Client(enforce_csrf_checks=True)
    cross_site.cookies = client.cookies

    cross_site.post(address, {"mfa_state": "disabled"})

    assert User.objects.get(pk=people.adele.pk).mfa_state == MfaState.ENFORCED


@pytest.mark.parametrize("query", [
    "/admin/users?q=" + "x" * 10_000,
    "/admin/users?q=%00&state=%00&role=%FF%FE&enabled=maybe&page=%00",
    "/admin/users?page=99999999999999999999999",
    "/admin/users/99999999999999999999999",
    "/admin/signins?user=%00&result=nope&code=99999999999999999999&ip=999.1.1.1&since=2024-02-30&until=0000-00-00",
    "/admin/signins?since=0001-01-01&until=0001-01-01",
    "/admin/signins?since=9999-12-31&until=9999-12-31",
    "/admin/audit?actor=%00&target=%FF&action=" + "x" * 10_000,
    "/admin/audit?since=0001-01-01&until=9999-12-31",
], ids=lambda query: query[:70])
def test_an_admin_page_opened_with_hostile_filters_answers_without_a_server_error(at_form, query):
    client, _ = at_form("new user")  # Megan, signed in

    assert client.get(query).status_code < 500


@pytest.mark.parametrize("query", [
    "/signin?next=%00",
    "/signin?next=/%0d%0aSet-Cookie:%20x=y",
    "/signin?next=" + "/" * 10_000,
    "/signin?expired=%FF&switch=%00",
    "/signin/register?step=%00",
    "/mysecurityinfo/add/authenticator?step=%3Cscript%3E",
    "/signin/reverify?next=https://evil.example/",
])
def test_a_person_facing_page_opened_with_hostile_parameters_answers_without_a_server_error(at_form, query):
    client, _ = at_form("default method")  # Adele, signed in with a code

    assert client.get(query).status_code < 500


def test_a_next_address_with_a_line_break_cannot_add_a_header(client, people):
    client.post("/signin?next=/myaccount%0d%0aSet-Cookie:%20x=y", {"name": people.megan.upn})

    response = client.post("/signin/password", {"password": "Harbour-Lantern-Quiet-42"})

    assert "\n" not in response["Location"] and "\r" not in response["Location"]
    assert "x" not in response.cookies


def test_the_admin_pages_escape_what_people_typed(at_form, people):
    client, _ = at_form("new user")
    create_user({"upn": "kim@contoso.example", "display_name": "<script>alert(1)</script>"}, actor="cli")

    page = client.get("/admin/users").content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
