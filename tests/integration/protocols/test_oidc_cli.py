"""``watchword oidc client add | list | remove | secret``: the three kinds of application, what
each may have, errors as ``watchword: <message> [<code>]`` (exit 1; usage errors exit 2), and an
audit event for every change, by "cli"."""

from __future__ import annotations

import json

import pytest
from oauth2_provider.models import get_application_model

from watchword.audit.models import AuditEvent
from watchword.cli import main
from watchword.protocols.oidc_clients import get_client, kind_of, scopes_of

pytestmark = pytest.mark.django_db

CALLBACK = "https://grafana.contoso.example/login/generic_oauth"


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_web_application_is_added_with_its_secret_shown_once(capsys):
    code, out, _ = run(capsys, "oidc", "client", "add", "Grafana", "--kind", "web", "--redirect-uri", CALLBACK,
                       "--post-logout-redirect-uri", "https://grafana.contoso.example/", "--consent")
    assert code == 0
    assert "Added application Grafana (Web application)" in out
    secret = out.split("Client secret: ")[1].split()[0]
    app = get_client("Grafana")
    assert kind_of(app) == "web" and not app.skip_authorization
    assert app.redirect_uris == CALLBACK and app.post_logout_redirect_uris == "https://grafana.contoso.example/"
    assert scopes_of(app) == ["openid", "profile", "email"]
    assert secret not in app.client_secret
    event = AuditEvent.objects.get(action="oidc.client.add")
    assert event.actor_label == "cli" and event.after["kind"] == "web" and event.after["consent"] is True
    assert secret not in json.dumps(event.after)


def test_the_older_flags_still_work(capsys):
    code, out, _ = run(capsys, "oidc", "client", "add", "SPA", "--redirect-uri", "http://localhost:5173/cb", "--public",
                       "--scopes", "openid email")
    assert code == 0 and "Client secret" not in out
    app = get_client("SPA")
    assert kind_of(app) == "spa" and app.skip_authorization and scopes_of(app) == ["openid", "email"]


def test_a_service_gets_api_scopes_and_no_redirect_uris(capsys):
    code, out, _ = run(capsys, "oidc", "client", "add", "Reporting", "--kind", "service", "--scopes",
                       "users.read,logs.read")
    assert code == 0 and "Service (client credentials)" in out and "Client secret: " in out
    app = get_client("Reporting")
    assert kind_of(app) == "service" and app.redirect_uris == "" and scopes_of(app) == ["users.read", "logs.read"]


@pytest.mark.parametrize(("args", "message", "code"), [
    (["X", "--kind", "service"], "Choose at least one API scope", "oidc_client_invalid"),
    (["X", "--kind", "service", "--scopes", "openid"], "openid: not among the API scopes", "oidc_client_invalid"),
    (["X", "--kind", "service", "--scopes", "logs.read", "--redirect-uri", CALLBACK], "has no redirect URIs",
     "oidc_client_invalid"),
    (["X", "--kind", "web", "--redirect-uri", CALLBACK, "--scopes", "openid users.read"],
     "users.read: not among the OpenID Connect scopes", "oidc_client_invalid"),
    (["X", "--kind", "web", "--redirect-uri", CALLBACK, "--scopes", "profile"], "needs the openid scope",
     "oidc_client_invalid"),
    (["X", "--kind", "web"], "Give at least one redirect URI", "oidc_client_invalid"),
    (["X", "--redirect-uri", "http://app.contoso.example/cb"], "plain http is only allowed for localhost",
     "oidc_client_invalid"),
    (["X", "--redirect-uri", "https://app.contoso.example/cb#x"], "without a #fragment", "oidc_client_invalid"),
    (["X", "--redirect-uri", "app.contoso.example/cb"], "is not an absolute http(s) address", "oidc_client_invalid"),
    (["X", "--redirect-uri", "https://[::1/cb"], "is not an absolute http(s) address", "oidc_client_invalid"),
    (["X", "--kind", "web", "--public", "--redirect-uri", CALLBACK], "--public is for single-page",
     "oidc_client_invalid"),
    (["   ", "--redirect-uri", CALLBACK], "The name must be 1 to 100 characters", "oidc_client_invalid"),
    (["a\tb", "--redirect-uri", CALLBACK], "control characters", "oidc_client_invalid"),
])
def test_bad_registrations_are_refused_with_a_clear_message(capsys, args, message, code):
    status, out, err = run(capsys, "oidc", "client", "add", *args)
    assert status == 1 and out == ""
    assert err.startswith("watchword: ") and message in err and err.rstrip().endswith(f"[{code}]")
    assert not get_application_model().objects.exists() and not AuditEvent.objects.exists()


def test_a_second_application_of_the_same_name_is_refused(capsys):
    assert run(capsys, "oidc", "client", "add", "Grafana", "--redirect-uri", CALLBACK)[0] == 0
    status, _, err = run(capsys, "oidc", "client", "add", "Grafana", "--redirect-uri", CALLBACK)
    assert status == 1 and "[oidc_client_exists]" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["oidc", "client", "add", "X", "--kind", "desktop"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["oidc", "client", "remove"])
    assert exit_.value.code == 2


def test_list_shows_applications_but_never_secrets(capsys):
    _, out, _ = run(capsys, "oidc", "client", "add", "Grafana", "--redirect-uri", CALLBACK)
    web_secret = out.split("Client secret: ")[1].split()[0]
    _, out, _ = run(capsys, "oidc", "client", "add", "Reporting", "--kind", "service", "--scopes", "logs.read")
    service_secret = out.split("Client secret: ")[1].split()[0]
    status, table, _ = run(capsys, "oidc", "client", "list")
    assert status == 0
    lines = table.splitlines()
    assert lines[0].split() == ["NAME", "CLIENT_ID", "KIND", "SCOPES", "CONSENT", "REDIRECT_URIS"]
    assert "Grafana" in lines[1] and CALLBACK in lines[1] and "web" in lines[1]
    assert "Reporting" in lines[2] and "service" in lines[2] and "logs.read" in lines[2]
    status, raw, _ = run(capsys, "oidc", "client", "list", "--format", "json")
    rows = json.loads(raw)
    assert [row["name"] for row in rows] == ["Grafana", "Reporting"]
    assert rows[0]["client_id"] == get_client("Grafana").client_id and rows[1]["redirect_uris"] == []
    for text in (table, raw):
        assert web_secret not in text and service_secret not in text and "secret" not in text.lower()


def test_list_says_when_there_are_none(capsys):
    assert run(capsys, "oidc", "client", "list") == (0, "No applications.\n", "")


def test_secret_makes_a_new_one_for_confidential_applications_only(capsys):
    _, out, _ = run(capsys, "oidc", "client", "add", "Reporting", "--kind", "service", "--scopes", "logs.read")
    old = out.split("Client secret: ")[1].split()[0]
    status, out, _ = run(capsys, "oidc", "client", "secret", "Reporting")
    new = out.split("Client secret: ")[1].split()[0]
    assert status == 0 and new != old and "old one no longer works" in out
    assert AuditEvent.objects.filter(action="oidc.client.secret", actor_label="cli").count() == 1
    run(capsys, "oidc", "client", "add", "SPA", "--kind", "spa", "--redirect-uri", "http://localhost:5173/cb")
    status, _, err = run(capsys, "oidc", "client", "secret", "SPA")
    assert status == 1 and "has no secret" in err and "[oidc_client_invalid]" in err
    status, _, err = run(capsys, "oidc", "client", "secret", "Nobody")
    assert status == 1 and "[oidc_client_not_found]" in err


def test_remove_by_name_or_client_id(capsys):
    run(capsys, "oidc", "client", "add", "Grafana", "--redirect-uri", CALLBACK)
    run(capsys, "oidc", "client", "add", "Wiki", "--redirect-uri", CALLBACK)
    status, out, _ = run(capsys, "oidc", "client", "remove", "Grafana")
    assert status == 0 and out == "Removed application Grafana; 0 tokens revoked.\n"
    wiki_id = get_client("Wiki").client_id
    assert run(capsys, "oidc", "client", "remove", wiki_id)[0] == 0
    assert not get_application_model().objects.exists()
    assert AuditEvent.objects.filter(action="oidc.client.remove", actor_label="cli").count() == 2
    status, _, err = run(capsys, "oidc", "client", "remove", "Grafana")
    assert status == 1 and err == "watchword: There is no application named 'Grafana' (nor with that client ID). " \
                                  "[oidc_client_not_found]\n"
