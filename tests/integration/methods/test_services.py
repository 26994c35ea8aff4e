"""Per-user MFA state and the methods it depends on."""

from __future__ import annotations

import pytest

from watchword.directory.models import MfaState
from watchword.methods.errors import LastMethodRequired
from watchword.methods.models import Method
from watchword.methods.services import (
    default_method,
    delete_method,
    require_reregistration,
    set_mfa_state,
)

pytestmark = pytest.mark.django_db


def test_enabling_mfa_for_someone_without_a_method_leaves_them_enabled(adele, megan):
    assert set_mfa_state(adele, "enabled", actor=megan).mfa_state == MfaState.ENABLED


def test_enabling_mfa_for_someone_who_already_has_a_method_makes_them_enforced(adele, megan, enrol):
    enrol(adele)

    assert set_mfa_state(adele, "enabled", actor=megan).mfa_state == MfaState.ENFORCED


def test_completing_registration_moves_an_enabled_person_to_enforced(adele, megan, enrol):
    set_mfa_state(adele, "enabled", actor=megan)

    enrol(adele)

    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.ENFORCED


def test_registering_a_method_without_mfa_turned_on_leaves_mfa_disabled(adele, enrol):
    enrol(adele)

    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.DISABLED


@pytest.mark.parametrize("typed", ["ENABLED", " enabled "])
def test_a_state_typed_in_capitals_or_with_spaces_is_understood(adele, megan, typed):
    assert set_mfa_state(adele, typed, actor=megan).mfa_state == MfaState.ENABLED


@pytest.mark.parametrize("typed", ["on", "", None, "enabled\x00", 1])
def test_an_unknown_state_is_refused_and_nothing_changes(adele, megan, typed):
    from watchword.directory.errors import InvalidMfaState

    with pytest.raises(InvalidMfaState):
        set_mfa_state(adele, typed, actor=megan)

    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.DISABLED


def test_requiring_re_registration_deletes_every_method_and_sets_enforced_back_to_enabled(adele, megan, enrol):
    set_mfa_state(adele, "enabled", actor=megan)
    enrol(adele)
    enrol(adele)

    require_reregistration(adele, actor=megan)

    adele.refresh_from_db()
    assert not Method.objects.filter(user=adele).exists()
    assert adele.mfa_state == MfaState.ENABLED


def test_requiring_re_registration_raises_the_session_epoch(adele, megan, enrol):
    enrol(adele)
    epoch = adele.session_epoch

    require_reregistration(adele, actor=megan)

    adele.refresh_from_db()
    assert adele.session_epoch == epoch + 1


def test_the_last_method_of_an_enforced_person_cannot_be_deleted(adele, megan, enrol):
    set_mfa_state(adele, "enforced", actor=megan)
    app = enrol(adele)

    with pytest.raises(LastMethodRequired):
        delete_method(adele, app.method.pk, actor=adele)

    assert Method.objects.filter(pk=app.method.pk).exists()


def test_the_last_method_of_a_person_without_mfa_can_be_deleted(adele, enrol):
    app = enrol(adele)

    delete_method(adele, app.method.pk, actor=adele)

    assert not Method.objects.filter(user=adele).exists()


def test_without_a_chosen_default_the_most_preferred_method_is_the_default(adele, enrol):
    app = enrol(adele)
    Method.objects.filter(pk=app.method.pk).update(is_default=False)

    assert default_method(adele).pk == app.method.pk


def test_a_person_with_no_methods_has_no_default(adele):
    assert default_method(adele) is None

