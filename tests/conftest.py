"""Shared fixtures: a sealing keyring for the run, people in realistic states, their authenticator
apps, the sign-in pages, a mail folder and a keyring of a test's own."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from django.conf import settings

from tests.support import PASSWORD, Authenticator, Device, SignIn, upn_of
from watchword.core import sealing


@pytest.fixture(scope="session", autouse=True)
def keyring():
    if not settings.SEAL_KEYRING.exists():
        sealing.write_keyring(settings.SEAL_KEYRING, sealing.new_keyring())
    return sealing.load_keyring(settings.SEAL_KEYRING)


# --- people --------------------------------------------------------------------------------


@pytest.fixture
def make_person():
    """Create a person the way an admin would (through ``directory.services``), with a known
    password and, if asked, a per-user MFA state (set without sending the notice e-mail)."""
    from watchword.directory.services import create_user
    from watchword.methods.services import set_mfa_state

    def make(display_name: str, *, role: str = "user", mfa_state: str = "disabled", password: str | None = PASSWORD,
             email: str | None = None, **fields):
        upn = upn_of(display_name)
        data = {"upn": upn, "display_name": display_name, "email": upn if email is None else email, "role": role,
                **fields}
        user = create_user(data, actor="cli", password=password).user
        if mfa_state != "disabled":
            user = set_mfa_state(user, mfa_state, actor="cli", notify=False)
        return user

    return make


@pytest.fixture
def adele(make_person):
    """Adele Vance, an ordinary member of staff; per-user MFA disabled, no methods yet."""
    return make_person("Adele Vance", office_phone="+44 20 7946 0958 x123", mobile_phone="07400 123456")


@pytest.fixture
def megan(make_person):
    """Megan Bowen, the organisation's only Global Administrator."""
    return make_person("Megan Bowen", role="global_admin")


@pytest.fixture
def alex(make_person):
    """Alex Wilber, an Authentication Administrator (helpdesk)."""
    return make_person("Alex Wilber", role="authentication_admin")


# --- authenticator apps --------------------------------------------------------------------


@pytest.fixture
def enrol():
    """Register an authenticator app for a person through the real enrolment path (seed sealed,
    first code confirmed), five minutes in the past so the codes around now are all unused."""
    from django.utils import timezone

    from watchword.methods import registry
    from watchword.methods.services import complete_registration
    from watchword.methods.totp import time_step

    def enrol_authenticator(user, *, minutes_ago: int = 5) -> Authenticator:
        totp = registry.get("totp")
        at = timezone.now() - timedelta(minutes=minutes_ago)
        pending = totp.begin_enrolment(user=user, issuer="Contoso", now=at)
        secret = totp.pending_secret(user=user, pending=pending)
        method = totp.confirm_enrolment(user=user, pending=pending, response=pyotp.TOTP(secret).at(at), now=at,
                                        name="Authenticator app")
        complete_registration(user, method)
        return Authenticator(secret=secret, method=method, last_step=time_step(at))

    return enrol_authenticator


@pytest.fixture
def enrol_device():
    """Register an authenticator device for push through the real path: activation code,
    activation with the device's key, a test request approved with its number, confirmation."""
    from django.test import Client
    from django.utils import timezone

    from watchword.methods import push
    from watchword.methods.services import complete_registration

    def enrol_push(user, *, name: str = "Adele's phone") -> Device:
        device = Device()
        client = Client()
        now = timezone.now()
        row, code = push.start_activation(user, now=now)
        assert device.activate(client, code, name=name).status_code == 201
        pending = push.PushDevice.objects.get(device_id=device.device_id)
        challenge = push.create_challenge(user, purpose="registration", app="test", ip=None, now=now, device=pending)
        assert device.answer(client, challenge.id, "approve", challenge.number).json() == {"result": "approved"}
        method = push.confirm_registration(row.pk, challenge.id, user, now=timezone.now())
        complete_registration(user, method)
        return device

    return enrol_push


# --- walking the sign-in pages -------------------------------------------------------------


@pytest.fixture
def sign_in():
    return SignIn


# --- outgoing mail and keys ----------------------------------------------------------------


@pytest.fixture
def mail_folder(settings, tmp_path):
    """The embedded mail default (one .eml file per message) in a folder of this test's own;
    Django's test runner would otherwise swap in its in-memory backend."""
    settings.EMAIL_BACKEND = "watchword.delivery.mail.MailFolderBackend"
    settings.MAIL_FOLDER = tmp_path / "mail"
    return settings.MAIL_FOLDER


@pytest.fixture
def private_keyring(settings, tmp_path):
    """A keyring file of this test's own, for tests that rotate keys."""
    path = tmp_path / "keys" / "seal.json"
    sealing.write_keyring(path, sealing.new_keyring())
    settings.SEAL_KEYRING = path
    return path
