"""Groups of people (for policies to target): create, delete, add and remove members."""

from __future__ import annotations

from django.db import transaction

from watchword.audit.services import record_change
from watchword.directory.errors import GroupExists, GroupInUse, GroupNotFound, InvalidGroupField, InvalidUserField
from watchword.directory.models import Group, User
from watchword.directory.services import check_text


def clean_group(data: dict) -> dict:
    try:
        return {
            "name": check_text(data.get("name"), field_name="name", label="Group name", max_length=128, required=True),
            "description": check_text(data.get("description"), field_name="description", label="Description",
                                      max_length=512, required=False),
        }
    except InvalidUserField as exc:
        raise InvalidGroupField(exc.public_message, field=exc.field) from None


def create_group(data: dict, *, actor, request=None) -> Group:
    cleaned = clean_group(data)
    with transaction.atomic():
        if Group.objects.filter(name__iexact=cleaned["name"]).exists():
            raise GroupExists(field="name")
        group = Group.objects.create(**cleaned)
        record_change(actor=actor, action="group.create", target=group, after=cleaned, request=request)
    return group


def get_group(group_id: object) -> Group:
    try:
        return Group.objects.get(pk=int(str(group_id)))
    except (Group.DoesNotExist, ValueError, OverflowError):
        raise GroupNotFound() from None


def delete_group(group: Group, *, actor, request=None) -> None:
    """Refused while a Conditional Access policy names the group (a policy's exclusion would
    otherwise silently stop excluding anyone)."""
    from watchword.policy.services import policies_naming

    using = policies_naming("groups", str(group.pk))
    if using:
        raise GroupInUse(f"{group.name!r} is used by the Conditional Access policies "
                         f"{', '.join(repr(n) for n in using[:5])}; remove it from them first.")
    with transaction.atomic():
        before = {"name": group.name, "members": list(group.members.values_list("upn", flat=True))}
        group.delete()
        record_change(actor=actor, action="group.delete", target_type="group", before=before, request=request)


def add_member(group: Group, user: User, *, actor, request=None) -> bool:
    with transaction.atomic():
        if group.members.filter(pk=user.pk).exists():
            return False
        group.members.add(user)
        record_change(actor=actor, action="group.member.add", target=group, after={"member": user.upn},
                      request=request)
    return True


def remove_member(group: Group, user: User, *, actor, request=None) -> bool:
    with transaction.atomic():
        if not group.members.filter(pk=user.pk).exists():
            return False
        group.members.remove(user)
        record_change(actor=actor, action="group.member.remove", target=group, before={"member": user.upn},
                      request=request)
    return True
