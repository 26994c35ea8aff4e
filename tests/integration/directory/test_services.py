"""Creating and changing people: every field validated the same way for admin pages, CLI and
import; bad values name their field and write nothing; admin roles are protected."""

from __future__ import annotations

import pytest

from watchword.audit.models import AuditEvent
from watchword.directory.errors import InvalidUserField, LastGlobalAdmin, RoleChangeDenied, UserExists
from watchword.directory.models import Role, User
from watchword.directory.services import create_user, reset_password, set_enabled, update_user
from tests.support import PASSWORD

pytestmark = pytest.mark.django_db

LEE = {"upn": "lee.gu@contoso.example", "display_name": "Lee Gu", "email": "lee.gu@contoso.example",
       "office_phone": "+1 (425) 555-0100 x123", "mobile_phone": "07400 123456", "role": "user"}

TEXT_FIELDS = ("upn", "display_name", "email", "office_phone", "mobile_phone")

# (field, bad value) pairs every path must refuse with InvalidUserField naming that field.
BAD_VALUES = [
    *[(field, "x" * 300) for field in TEXT_FIELDS],
    *[(field, "lee\x00gu") for field in TEXT_FIELDS],
    *[(field, "lee\x1b[31mgu") for field in TEXT_FIELDS],
    *[(field, "lee\x07gu") for field in TEXT_FIELDS],
    *[(field, "lee\ud800gu") for field in TEXT_FIELDS],
    *[(field, 12345) for field in TEXT_FIELDS],
    ("upn", ""),
    ("upn", "   "),
    ("upn", "lee.gu"),
    ("upn", "lee gu@contoso.example"),
    ("display_name", ""),
    ("display_name", "   "),
    ("email", "lee.gu"),
    ("office_phone", "call me"),
    ("office_phone", "+44 20 7946 095"),
    ("mobile_phone", "+1 (425) 555-0100 x123"),  # an extension on a mobile
    ("mobile_phone", "\x00"),
    ("role", "superuser"),
    ("role", ["global_admin"]),
]


def _bad_id(value):
    return repr(value)[:24]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=_bad_id)
def test_creating_a_person_with_a_bad_field_raises_invalid_user_field_naming_it_and_writes_nothing(field, value):
    users, events = User.objects.count(), AuditEvent.objects.count()

    with pytest.raises(InvalidUserField) as raised:
        create_user({**LEE, field: value}, actor="cli", password=PASSWORD)

    assert raised.value.field == field
    assert raised.value.public_message
    assert (User.objects.count(), AuditEvent.objects.count()) == (users, events)


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=_bad_id)
def test_updating_a_person_with_a_bad_field_raises_invalid_user_field_naming_it_and_changes_nothing(
        field, value, adele, megan):
    before = User.objects.filter(pk=adele.pk).values().get()
    events = AuditEvent.objects.count()

    with pytest.raises(InvalidUserField) as raised:
        update_user(adele, {field: value}, actor=megan)

    assert raised.value.field == field
    assert User.objects.filter(pk=adele.pk).values().get() == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"], ids=["line separator", "paragraph separator"])
def test_a_display_name_broken_over_two_lines_is_refused(separator):
    # check_text promises "plain single-line text"; U+2028/U+2029 end a line as surely as "\n".
    with pytest.raises(InvalidUserField) as raised:
        create_user({**LEE, "display_name": f"Lee{separator}Gu"}, actor="cli", password=PASSWORD)

    assert raised.value.field == "display_name"


@pytest.mark.parametrize("field", ["email", "office_phone", "mobile_phone"])
def test_optional_fields_may_be_left_empty(field):
    user = create_user({**LEE, field: ""}, actor="cli", password=PASSWORD).user

    assert getattr(user, field) == ""


def test_a_new_person_is_stored_with_a_lower_case_sign_in_name_and_e164_phones():
    user = create_user({**LEE, "upn": "  Lee.Gu@Contoso.Example "}, actor="cli", password=PASSWORD).user
    user.refresh_from_db()

    assert user.upn == "lee.gu@contoso.example"
    assert user.office_phone == "+14255550100x123"
    assert user.mobile_phone == "+447400123456"


def test_a_sign_in_name_taken_in_another_case_is_refused_as_existing():
    create_user(LEE, actor="cli", password=PASSWORD)

    with pytest.raises(UserExists) as raised:
        create_user({**LEE, "upn": "LEE.GU@contoso.example"}, actor="cli", password=PASSWORD)

    assert raised.value.field == "upn"
    assert User.objects.filter(upn="lee.gu@contoso.example").count() == 1


def test_renaming_a_person_to_a_taken_sign_in_name_is_refused(adele, megan):
    with pytest.raises(UserExists):
        update_user(adele, {"upn": megan.upn}, actor=megan)

    adele.refresh_from_db()
    assert adele.upn == "adele.vance@contoso.example"


def test_a_person_created_without_a_password_gets_a_one_time_password_they_must_change():
    created = create_user(LEE, actor="cli")

    assert created.one_time_password
    assert created.user.must_change_password
    assert User.objects.get(pk=created.user.pk).check_password(created.one_time_password)


def test_a_weak_password_is_refused_and_nothing_is_written():
    from watchword.directory.errors import WeakPassword

    with pytest.raises(WeakPassword):
        create_user(LEE, actor="cli", password="password123")

    assert not User.objects.filter(upn=LEE["upn"]).exists()


def test_the_last_enabled_global_administrator_cannot_be_disabled(megan):
    with pytest.raises(LastGlobalAdmin):
        set_enabled(megan, False, actor=megan)

    megan.refresh_from_db()
    assert megan.is_active


def test_the_last_enabled_global_administrator_cannot_be_given_a_lesser_role(megan):
    with pytest.raises(LastGlobalAdmin):
        update_user(megan, {"role": Role.USER}, actor=megan)

    megan.refresh_from_db()
    assert megan.role == Role.GLOBAL_ADMIN


def test_a_disabled_global_administrator_does_not_count_as_another_one(megan, make_person):
    second = make_person("Nestor Wilke", role="global_admin")
    set_enabled(second, False, actor=megan)

    with pytest.raises(LastGlobalAdmin):
        update_user(megan, {"role": Role.AUTHENTICATION_ADMIN}, actor=megan)


def test_a_global_administrator_can_step_down_while_another_one_remains(megan, make_person):
    make_person("Nestor Wilke", role="global_admin")

    update_user(megan, {"role": Role.AUTHENTICATION_ADMIN}, actor=megan)

    megan.refresh_from_db()
    assert megan.role == Role.AUTHENTICATION_ADMIN


@pytest.mark.parametrize("role", [Role.AUTHENTICATION_ADMIN, Role.GLOBAL_ADMIN])
def test_an_authentication_administrator_cannot_create_an_admin(alex, role):
    with pytest.raises(RoleChangeDenied):
        create_user({**LEE, "role": role}, actor=alex, password=PASSWORD)

    assert not User.objects.filter(upn=LEE["upn"]).exists()


@pytest.mark.parametrize("role", [Role.AUTHENTICATION_ADMIN, Role.GLOBAL_ADMIN])
def test_an_authentication_administrator_cannot_give_a_person_an_admin_role(alex, adele, role):
    with pytest.raises(RoleChangeDenied):
        update_user(adele, {"role": role}, actor=alex)

    adele.refresh_from_db()
    assert adele.role == Role.USER


def test_an_authentication_administrator_can_create_an_ordinary_user(alex):
    assert create_user(LEE, actor=alex, password=PASSWORD).user.role == Role.USER


def test_a_global_administrator_can_make_someone_an_authentication_administrator(megan, adele):
    update_user(adele, {"role": Role.AUTHENTICATION_ADMIN}, actor=megan)

    adele.refresh_from_db()
    assert adele.is_admin and not adele.is_global_admin


def test_resetting_a_password_gives_a_one_time_password_to_be_changed_and_ends_sessions(adele, megan):
    epoch = adele.session_epoch

    one_time = reset_password(adele, actor=megan)

    adele.refresh_from_db()
    assert adele.check_password(one_time)
    assert not adele.check_password(PASSWORD)
    assert adele.must_change_password
    assert adele.session_epoch == epoch + 1
