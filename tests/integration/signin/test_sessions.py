"""Server-side sessions: expired ones are purged, live ones kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from watchword.signin.services import purge_expired_sessions

pytestmark = pytest.mark.django_db


def test_expired_sessions_are_purged_and_live_ones_kept(sign_in, adele):
    live = Client()
    sign_in.password(live, adele.upn)
    stale = Client()
    sign_in.password(stale, adele.upn)
    Session.objects.filter(session_key=stale.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1))

    assert purge_expired_sessions() == 1
    assert live.get("/myaccount").status_code == 200
    assert stale.get("/myaccount").status_code == 302
