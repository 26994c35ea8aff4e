"""Errors are types with stable string codes; a test keeps the codes unique."""

from __future__ import annotations

from collections import Counter

import watchword.directory.imports  # noqa: F401  (defines CsvInvalid outside errors.py)
from watchword.core.errors import WatchwordError, all_error_classes


def test_every_error_code_is_unique_across_all_error_classes():
    codes = Counter(cls.code for cls in all_error_classes())

    assert [code for code, count in codes.items() if count > 1] == []


def test_all_error_classes_finds_the_error_classes_of_every_capability():
    modules = {cls.__module__ for cls in all_error_classes()}

    assert {"watchword.core.errors", "watchword.directory.errors", "watchword.methods.errors",
            "watchword.policy.errors", "watchword.audit.errors", "watchword.delivery.errors"} <= modules


def test_every_error_has_a_code_a_client_status_and_a_public_message():
    for cls in all_error_classes():
        assert isinstance(cls.code, str) and cls.code, cls
        assert 400 <= cls.status <= 599, cls
        assert isinstance(cls.message, str) and cls.message.endswith("."), cls


def test_an_error_shows_its_own_public_message_and_field_but_not_its_detail():
    error = WatchwordError("Enter a display name.", field="display_name", internal="row 7 of import")

    assert error.as_dict() == {"code": "error", "message": "Enter a display name.", "field": "display_name"}
