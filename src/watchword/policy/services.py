"""Policy administration and the compiled configuration the sign-in reads.

Every change is validated completely before anything is written (one transaction), audited,
and raises ``PolicySettings.version``; ``load_config`` recompiles only when the version moved, so
a sign-in pays one small read for the whole configuration.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from watchword.audit.services import record_change
from watchword.policy import document as doc
from watchword.policy import strengths as st
from watchword.policy.engine import PolicyConfig
from watchword.policy.errors import LockoutRisk, PolicyConflict, PolicyInvalid, PolicyNotFound
from watchword.policy.methods import MethodsPolicy, compile_methods_policy
from watchword.policy.locations import MAX_LOCATIONS, MAX_TRUSTED_IPS, compile_location, parse_ranges
from watchword.policy.models import (
    AuthenticationStrength,
    ConditionalAccessPolicy,
    NamedLocation,
    PolicySettings,
    RegistrationGrace,
)

MAX_POLICIES = 1000
MAX_STRENGTHS = 100


def current_settings() -> PolicySettings:
    row = PolicySettings.objects.filter(pk=1).first()
    if row is None:
        row, _ = PolicySettings.objects.get_or_create(pk=1)
    return row


def _bump() -> None:
    current_settings()
    PolicySettings.objects.filter(pk=1).update(version=F("version") + 1, updated_at=timezone.now())


# --- the compiled configuration -----------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict = {"version": None, "config": None}


@dataclass(frozen=True)
class Loaded:
    settings: PolicySettings
    config: PolicyConfig
    methods: MethodsPolicy


def load() -> Loaded:
    """The settings row (one read) and the compiled configuration for its version."""
    row = current_settings()
    key = (row.version, row.updated_at)  # the time too: a restored database may repeat a version
    with _cache_lock:
        if _cache["version"] == key and _cache["config"] is not None:
            return Loaded(row, *_cache["config"])
    config = compile_config(row)
    try:
        methods = compile_methods_policy(row.methods_policy)
    except PolicyInvalid:  # never stored so (it is checked on save): all methods, not none
        methods = compile_methods_policy({})
    with _cache_lock:
        _cache["version"], _cache["config"] = key, (config, methods)
    return Loaded(row, config, methods)


def compile_config(row: PolicySettings) -> PolicyConfig:
    """Everything stored, compiled. A stored policy that no longer compiles is not dropped
    silently: it is listed in ``broken`` and the engine requires MFA of everyone until fixed."""
    policies, broken = [], []
    for policy in ConditionalAccessPolicy.objects.exclude(state="disabled").order_by("created_at"):
        try:
            policies.append(doc.compile_policy(policy.document, id=str(policy.pk)))
        except PolicyInvalid:
            broken.append(policy.display_name)
    locations = []
    for location in NamedLocation.objects.all():
        try:
            locations.append(compile_location(id=str(location.pk), name=location.display_name,
                                              ranges=location.ranges, trusted=location.trusted))
        except PolicyInvalid:
            broken.append(f"named location {location.display_name}")
    strengths = dict(st.BUILT_IN)
    for strength in AuthenticationStrength.objects.all():
        strengths[str(strength.pk)] = st.Strength(str(strength.pk), strength.display_name,
                                                  frozenset(strength.combinations), False, strength.description)
    try:
        trusted = parse_ranges(row.mfa_trusted_ips or [], field="mfaTrustedIps", limit=MAX_TRUSTED_IPS)
    except PolicyInvalid:
        trusted, broken = (), broken + ["MFA trusted IPs"]
    return PolicyConfig(security_defaults=row.security_defaults, policies=tuple(policies),
                        locations=tuple(locations), strengths=strengths, mfa_trusted_ips=trusted,
                        broken=tuple(broken))


def forget_cache() -> None:
    with _cache_lock:
        _cache["version"], _cache["config"] = None, None


# --- what exists, to check references -----------------------------------------------------------

def applications() -> list[tuple[str, str]]:
    """Every application a policy can name: (id, label)."""
    from oauth2_provider.models import get_application_model

    from watchword.protocols.models import RadiusClient

    apps = [(doc.APP_PORTAL, "Watchword sign-in and My account"), (doc.APP_ADMIN, "Watchword admin pages"),
            (doc.APP_API, "Watchword verification API")]
    apps += [(a.client_id, f"{a.name} (OpenID Connect)") for a in get_application_model().objects.order_by("name")]
    apps += [(f"{doc.RADIUS_PREFIX}{c.name}", f"{c.name} (RADIUS)") for c in RadiusClient.objects.order_by("name")]
    return apps


def catalog() -> doc.Catalog:
    from watchword.directory.models import Group, User

    return doc.Catalog(
        users=frozenset(str(pk) for pk in User.objects.filter(deleted_at__isnull=True).values_list("pk", flat=True)),
        groups=frozenset(str(pk) for pk in Group.objects.values_list("pk", flat=True)),
        apps=frozenset(app_id for app_id, _ in applications()),
        locations=frozenset(str(pk) for pk in NamedLocation.objects.values_list("pk", flat=True)),
        strengths=frozenset(st.BUILT_IN) | frozenset(str(pk) for pk in
                                                     AuthenticationStrength.objects.values_list("pk", flat=True)),
    )


# --- Security Defaults --------------------------------------------------------------------------

def set_security_defaults(on: bool, *, actor, request=None) -> PolicySettings:
    if not isinstance(on, bool):
        raise PolicyInvalid("Security Defaults is either on (true) or off (false).", field="isEnabled")
    with transaction.atomic():
        row = PolicySettings.objects.select_for_update().filter(pk=1).first() or current_settings()
        if row.security_defaults == on:
            return row
        if on:
            enabled = list(ConditionalAccessPolicy.objects.filter(state="enabled").values_list("display_name",
                                                                                               flat=True)[:5])
            if enabled:
                raise PolicyConflict(f"Security Defaults can't be turned on while Conditional Access policies are "
                                     f"on: {', '.join(repr(n) for n in enabled)}. Turn them off (or to report-only) "
                                     f"first.", field="isEnabled")
            RegistrationGrace.objects.all().delete()  # everyone's 14 days start at their next sign-in
        row.security_defaults = on
        row.security_defaults_changed_at = timezone.now()
        row.save(update_fields=["security_defaults", "security_defaults_changed_at", "updated_at"])
        _bump()
        record_change(actor=actor, action="policy.security_defaults", target_type="settings",
                      before={"security_defaults": not on}, after={"security_defaults": on}, request=request)
    return row


# --- Conditional Access policies ----------------------------------------------------------------

def get_policy(policy_id) -> ConditionalAccessPolicy:
    try:
        policy = ConditionalAccessPolicy.objects.filter(pk=str(policy_id)).first()
    except Exception:  # not a UUID
        policy = None
    if policy is None:
        raise PolicyNotFound()
    return policy


def _denies(compiled: doc.CompiledPolicy) -> bool:
    """A block, or a grant no factor Watchword has can satisfy (a strength needing passkeys)."""
    if compiled.block:
        return True
    from watchword.policy.engine import _policy_factors

    factors = _policy_factors(compiled, load().config)
    return factors is not None and not (factors & st.WATCHWORD_FACTORS)


def lockout_warnings(compiled: doc.CompiledPolicy, *, actor) -> list[str]:
    """Why saving ``compiled`` could lock administrators out (the reference's "Don't lock
    yourself out!"): an enabled policy that blocks (or requires what nobody can prove here), for
    the admin pages, every enabled Global Administrator — or the administrator saving it."""
    if compiled.state != "enabled" or not _denies(compiled):
        return []
    from watchword.directory.models import Role, User
    from watchword.policy.conditions import first_unmet
    from watchword.policy.engine import SignInFacts

    def blocked(user) -> bool:
        facts = SignInFacts(user_id=user.pk, per_user_mfa_state=user.mfa_state, registered_methods=(),
                            is_admin=user.is_admin, app=doc.APP_ADMIN, roles=frozenset({user.role}),
                            groups=frozenset(str(g) for g in user.groups.values_list("pk", flat=True)))
        unmet = first_unmet(compiled, facts, PolicyConfig())
        # Only who and what are known in advance; any other condition could match some day.
        return not unmet or not unmet.startswith(("users:", "applications:", "user action:"))

    warnings = []
    if actor is not None and hasattr(actor, "pk") and blocked(actor):
        warnings.append(f"This policy blocks you ({actor.upn}) from the admin pages. Exclude yourself or a "
                        f"break-glass account first.")
    admins = list(User.objects.filter(role=Role.GLOBAL_ADMIN, is_active=True, deleted_at__isnull=True))
    if admins and all(blocked(a) for a in admins):
        warnings.append("This policy blocks every Global Administrator from the admin pages: nobody could turn "
                        "it off there again (only with the command line on the server).")
    return warnings


def _check_state_allowed(state: str) -> None:
    if state == "enabled" and current_settings().security_defaults:
        raise PolicyConflict("You must first turn off Security Defaults before turning on a Conditional Access "
                             "policy (or save it as report-only).", field="state")


def save_policy(document: object, *, actor, policy_id=None, confirm: bool = False, request=None,
                action: str = "") -> tuple[ConditionalAccessPolicy, list[str]]:
    """Create (no ``policy_id``) or replace a policy from its Graph-shaped document. Raises
    ``LockoutRisk`` (with the reasons) unless ``confirm``; returns the row and any warnings."""
    known = catalog()
    if policy_id is not None:
        # What the policy already names stays acceptable (a person soft-deleted by sync, an
        # application removed): the policy can still be edited and turned off.
        try:
            had = doc.references(doc.compile_policy(get_policy(policy_id).document))
        except PolicyInvalid:
            had = {}
        if had:
            known = doc.Catalog(users=known.users | had["users"], groups=known.groups | had["groups"],
                                apps=known.apps | had["apps"], locations=known.locations | had["locations"],
                                strengths=known.strengths | had["strengths"])
    compiled = doc.compile_policy(document, catalog=known)
    _check_state_allowed(compiled.state)
    warnings = lockout_warnings(compiled, actor=actor)
    if warnings and not confirm:
        raise LockoutRisk(" ".join(warnings), field="state", warnings=warnings)
    stored = {k: v for k, v in compiled.document.items()
              if k not in ("id", "createdDateTime", "modifiedDateTime", "templateId")}
    now = timezone.now()
    with transaction.atomic():
        if policy_id is None:
            if ConditionalAccessPolicy.objects.count() >= MAX_POLICIES:
                raise PolicyInvalid(f"There can be at most {MAX_POLICIES} policies.")
            policy = ConditionalAccessPolicy(created_at=now)
            before = None
        else:
            policy = get_policy(policy_id)
            before = {"state": policy.state, "document": policy.document}
        policy.display_name = compiled.name
        policy.state = compiled.state
        policy.document = stored
        policy.modified_at = now
        policy.save()
        _bump()
        record_change(actor=actor, action=action or ("policy.create" if before is None else "policy.update"),
                      target=policy, target_type="conditional_access_policy", before=before,
                      after={"state": policy.state, "document": stored}, request=request,
                      reason="; ".join(warnings)[:300] if warnings else "")
    return policy, warnings


def set_policy_state(policy_id, state: str, *, actor, confirm: bool = False, request=None):
    policy = get_policy(policy_id)
    if state not in doc.STATES:
        raise PolicyInvalid(f"state must be one of {', '.join(doc.STATES)}.", field="state")
    document = dict(policy.document, state=state)
    return save_policy(document, actor=actor, policy_id=policy.pk, confirm=confirm, request=request,
                       action="policy.state")


def delete_policy(policy_id, *, actor, request=None) -> None:
    policy = get_policy(policy_id)
    with transaction.atomic():
        record_change(actor=actor, action="policy.delete", target=policy, target_type="conditional_access_policy",
                      before={"state": policy.state, "document": policy.document}, request=request)
        policy.delete()
        _bump()


def policies_naming(kind: str, value: str) -> list[str]:
    """Names of the policies that name ``value`` among their ``kind`` references."""
    names = []
    for policy in ConditionalAccessPolicy.objects.all():
        try:
            compiled = doc.compile_policy(policy.document)
        except PolicyInvalid:
            continue
        if value in doc.references(compiled)[kind]:
            names.append(policy.display_name)
    return names


# --- named locations and MFA trusted IPs --------------------------------------------------------

def save_location(*, name, ranges, trusted, actor, location_id=None, request=None) -> NamedLocation:
    compiled = compile_location(id=location_id or "new", name=name, ranges=ranges, trusted=trusted)
    others = NamedLocation.objects.filter(display_name__iexact=compiled.name)
    if location_id is not None:
        others = others.exclude(pk=location_id)
    if others.exists():
        raise PolicyInvalid(f"There is already a location called {compiled.name!r}.", field="displayName")
    now = timezone.now()
    with transaction.atomic():
        if location_id is None:
            if NamedLocation.objects.count() >= MAX_LOCATIONS:
                raise PolicyInvalid(f"There can be at most {MAX_LOCATIONS} named locations.")
            location, before = NamedLocation(created_at=now), None
        else:
            location = NamedLocation.objects.filter(pk=location_id).first()
            if location is None:
                raise PolicyNotFound("That named location does not exist.")
            before = {"name": location.display_name, "ranges": location.ranges, "trusted": location.trusted}
        location.display_name = compiled.name
        location.ranges = [str(n) for n in compiled.ranges]
        location.trusted = compiled.trusted
        location.modified_at = now
        location.save()
        _bump()
        record_change(actor=actor, action="policy.location." + ("create" if before is None else "update"),
                      target=location, target_type="named_location", before=before,
                      after={"name": location.display_name, "ranges": location.ranges, "trusted": location.trusted},
                      request=request)
    return location


def delete_location(location_id, *, actor, request=None) -> None:
    location = NamedLocation.objects.filter(pk=location_id).first()
    if location is None:
        raise PolicyNotFound("That named location does not exist.")
    using = policies_naming("locations", str(location.pk))
    if using:
        raise PolicyConflict(f"{location.display_name!r} is used by {', '.join(repr(n) for n in using[:5])}; "
                             f"remove it from those policies first.")
    with transaction.atomic():
        record_change(actor=actor, action="policy.location.delete", target=location, target_type="named_location",
                      before={"name": location.display_name, "ranges": location.ranges}, request=request)
        location.delete()
        _bump()


# --- authentication strengths -------------------------------------------------------------------

def save_strength(*, name, combinations, description="", actor, strength_id=None, request=None):
    if not isinstance(name, str) or not name.strip() or len(name) > st.MAX_CUSTOM_NAME:
        raise PolicyInvalid(f"Give the strength a name of at most {st.MAX_CUSTOM_NAME} characters.",
                            field="displayName")
    if not isinstance(description, str) or len(description) > 512:
        raise PolicyInvalid("The description can be at most 512 characters.", field="description")
    if not isinstance(combinations, (list, tuple)) or not combinations:
        raise PolicyInvalid("Choose at least one allowed combination of methods.", field="allowedCombinations")
    for index, value in enumerate(combinations):
        if value not in st.KNOWN_COMBINATIONS:
            raise PolicyInvalid(f"{str(value)[:60]!r} is not a combination Watchword knows.",
                                field=f"allowedCombinations[{index}]")
    name = name.strip()
    if name.lower() in {s.name.lower() for s in st.BUILT_IN.values()}:
        raise PolicyInvalid("That is the name of a built-in strength.", field="displayName")
    others = AuthenticationStrength.objects.filter(display_name__iexact=name)
    if strength_id is not None:
        others = others.exclude(pk=strength_id)
    if others.exists():
        raise PolicyInvalid(f"There is already a strength called {name!r}.", field="displayName")
    now = timezone.now()
    with transaction.atomic():
        if strength_id is None:
            if AuthenticationStrength.objects.count() >= MAX_STRENGTHS:
                raise PolicyInvalid(f"There can be at most {MAX_STRENGTHS} custom strengths.")
            strength, before = AuthenticationStrength(created_at=now), None
        else:
            strength = AuthenticationStrength.objects.filter(pk=strength_id).first()
            if strength is None:
                raise PolicyNotFound("That authentication strength does not exist.")
            before = {"name": strength.display_name, "combinations": strength.combinations}
        strength.display_name, strength.description = name, description
        strength.combinations = sorted(set(combinations))
        strength.modified_at = now
        strength.save()
        _bump()
        record_change(actor=actor, action="policy.strength." + ("create" if before is None else "update"),
                      target=strength, target_type="authentication_strength", before=before,
                      after={"name": name, "combinations": strength.combinations}, request=request)
    return strength


def delete_strength(strength_id, *, actor, request=None) -> None:
    strength = AuthenticationStrength.objects.filter(pk=strength_id).first()
    if strength is None:
        raise PolicyNotFound("That authentication strength does not exist.")
    using = policies_naming("strengths", str(strength.pk))
    if using:
        raise PolicyConflict(f"{strength.display_name!r} is used by {', '.join(repr(n) for n in using[:5])}; "
                             f"remove it from those policies first.")
    with transaction.atomic():
        record_change(actor=actor, action="policy.strength.delete", target=strength,
                      target_type="authentication_strength", before={"name": strength.display_name}, request=request)
        strength.delete()
        _bump()
