"""Turning the names a policy document uses into Watchword's ids, for ``policy.graph``'s import.

A policy exported from the reference names people, groups and locations by the reference's
GUIDs, which mean nothing here; one written by hand names them the way an administrator knows
them. ``DatabaseResolver`` accepts both Watchword's own ids (so an export imports back
unchanged) and the names: people by sign-in name, groups, named locations and authentication
strengths by display name, applications by id. ``None`` means "nothing here by that name", and
the importer reports the field.

Each kind is read from the database once per resolver, on first use, so importing many policies
costs one query per kind rather than one per reference.
"""

from __future__ import annotations

from functools import cached_property

from watchword.policy import strengths as st


def _key(value: object) -> str | None:
    """The text to look a value up by, or None for anything that is not a non-empty text."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text and len(text) <= 256 and "\x00" not in text else None


def _by_name(rows) -> dict[str, str]:
    """{lower-case name: id}, leaving out names that differ only by case (ambiguous)."""
    found: dict[str, str] = {}
    clashes: set[str] = set()
    for pk, name in rows:
        key = name.strip().lower()
        if key in found and found[key] != str(pk):
            clashes.add(key)
        found[key] = str(pk)
    return {key: pk for key, pk in found.items() if key not in clashes}


class DatabaseResolver:
    """Watchword ids for the users, groups, applications, named locations and authentication
    strengths a policy names; ``None`` for any that do not exist here."""

    def user(self, value: object) -> str | None:
        key = _key(value)
        if key is None:
            return None
        if key in self._users:
            return key
        return self._upns.get(key.lower())

    def group(self, value: object) -> str | None:
        return self._find(value, self._groups)

    def app(self, value: object) -> str | None:
        key = _key(value)
        return key if key is not None and key in self._apps else None

    def location(self, value: object) -> str | None:
        return self._find(value, self._locations)

    def strength(self, value: object) -> str | None:
        return self._find(value, self._strengths)

    # --- what exists, read once -----------------------------------------------------------------

    @staticmethod
    def _find(value: object, known: tuple[frozenset[str], dict[str, str]]) -> str | None:
        key = _key(value)
        if key is None:
            return None
        ids, names = known
        for candidate in (key, key.lower()):  # UUIDs may come in either case
            if candidate in ids:
                return candidate
        return names.get(key.lower())

    @cached_property
    def _users(self) -> frozenset[str]:
        from watchword.directory.models import User

        return frozenset(str(pk) for pk in User.objects.filter(deleted_at__isnull=True).values_list("pk", flat=True))

    @cached_property
    def _upns(self) -> dict[str, str]:
        from watchword.directory.models import User

        return {upn.lower(): str(pk) for pk, upn in
                User.objects.filter(deleted_at__isnull=True).values_list("pk", "upn")}

    @cached_property
    def _groups(self) -> tuple[frozenset[str], dict[str, str]]:
        from watchword.directory.models import Group

        rows = list(Group.objects.values_list("pk", "name"))
        return frozenset(str(pk) for pk, _ in rows), _by_name(rows)

    @cached_property
    def _apps(self) -> frozenset[str]:
        from watchword.policy.services import applications

        return frozenset(app_id for app_id, _ in applications())

    @cached_property
    def _locations(self) -> tuple[frozenset[str], dict[str, str]]:
        from watchword.policy.models import NamedLocation

        rows = list(NamedLocation.objects.values_list("pk", "display_name"))
        return frozenset(str(pk) for pk, _ in rows), _by_name(rows)

    @cached_property
    def _strengths(self) -> tuple[frozenset[str], dict[str, str]]:
        from watchword.policy.models import AuthenticationStrength

        rows = [(s.id, s.name) for s in st.BUILT_IN.values()]
        rows += list(AuthenticationStrength.objects.values_list("pk", "display_name"))
        return frozenset(str(pk) for pk, _ in rows), _by_name(rows)
