"""The API against its own OpenAPI description, by schemathesis: requests generated from the
description (valid ones, and ones that break it on purpose) must never get a 5xx, and every
answer must be one the description allows (status, content type, body schema)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from watchword.protocols import openapi
from watchword.protocols.scopes import API_SCOPES
from watchword.wsgi import application

schema = schemathesis.openapi.from_dict(openapi.document("http://testserver/api/v1"))
schema.app = application

CHECKS = [checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance,
          openapi_checks.response_headers_conformance, openapi_checks.negative_data_rejection]


@pytest.fixture
def keep_connection():
    """Called in-process, the WSGI handler would close the database connection after each
    request, and with it the test's transaction; Django's own test client avoids the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, keep_connection, make_person, enrol):
    """A Global Administrator's token with every scope, and people to find."""
    from watchword.protocols.tokens import create_token

    admin = make_person("Megan Bowen", role="global_admin")
    enrol(make_person("Adele Vance", mobile_phone="07400 123456"))
    _, token = create_token(admin, name="schema", scopes=" ".join(API_SCOPES))
    return {"Authorization": f"Bearer {token}"}


# Derandomized: every run tries the same requests, so a failure reproduces and CI does not flicker;
# run with WATCHWORD_SCHEMA_EXPLORE=1 (any value) for fresh random examples when hunting.
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=not os.environ.get("WATCHWORD_SCHEMA_EXPLORE"), suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_the_description(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
