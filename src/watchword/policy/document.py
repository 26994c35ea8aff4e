"""A Conditional Access policy as stored, imported and exported — the shape of Microsoft Graph's
``conditionalAccessPolicy`` (the subset Watchword enforces) — compiled once into typed, frozen
values the engine evaluates.

Compiling checks everything: types, known values, bounded sizes, and (given a ``Catalog``) that
every user, group, role, application, location and strength named exists. Each error names the
field (``conditions.users.includeGroups[2]``). Fields Watchword does not enforce are refused
here; ``watchword.policy.graph`` turns them into warnings when importing from the reference.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

from watchword.policy.errors import PolicyInvalid

STATES = ("enabled", "disabled", "enabledForReportingButNotEnforced")
ALL, NONE = "All", "None"
ALL_TRUSTED = "AllTrusted"
APP_PORTAL = "WatchwordPortal"  # sign-in, My account, Security info
APP_ADMIN = "WatchwordAdmin"  # the admin pages (the reference's "Microsoft Admin Portals")
APP_API = "WatchwordApi"  # the verification API
RADIUS_PREFIX = "radius:"  # radius:<client name>
ACTION_REGISTER = "urn:user:registersecurityinfo"
CLIENT_TYPES = ("all", "browser", "mobileAppsAndDesktopClients", "radius", "api", "other")
PLATFORMS_ALLOWED = ("all", "android", "iOS", "windows", "macOS", "linux")
RISK_LEVELS = ("none", "low", "medium", "high")
CONTROLS = ("block", "mfa")
ROLE_IDS = {  # Entra's role template ids, so imported policies keep their meaning
    "62e90394-69f5-4237-9190-012177145e10": "global_admin",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "security_admin",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "authentication_admin",
}
ROLES = ("global_admin", "security_admin", "authentication_admin")

MAX_DOCUMENT_BYTES = 64 * 1024
MAX_LIST = 2000
MAX_NAME = 256
MAX_FREQUENCY = {"hours": 23, "days": 365}


@dataclass(frozen=True)
class Catalog:
    """What exists here, to check references against (ids as strings)."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    apps: frozenset[str] = frozenset()
    locations: frozenset[str] = frozenset()
    strengths: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Assignment:
    """Include / exclude of one kind; ``everything`` is ``All``."""

    everything: bool = False
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CompiledPolicy:
    id: str
    name: str
    state: str
    include_all_users: bool
    include_users: frozenset[str]
    exclude_users: frozenset[str]
    include_groups: frozenset[str]
    exclude_groups: frozenset[str]
    include_roles: frozenset[str]
    exclude_roles: frozenset[str]
    apps: Assignment
    user_actions: frozenset[str]
    client_types: frozenset[str]  # empty: any
    platforms: Assignment  # everything and no include: any
    locations: Assignment
    risk_levels: frozenset[str]  # empty: any
    block: bool
    operator: str  # "AND" | "OR"
    controls: tuple[str, ...]  # "mfa"
    strength: str | None
    frequency_seconds: int | None  # sign-in frequency; 0 = every time
    persistent_browser: str | None  # "always" | "never"
    document: dict = field(compare=False, hash=False, repr=False, default_factory=dict)

    @property
    def report_only(self) -> bool:
        return self.state == "enabledForReportingButNotEnforced"

    @property
    def has_grant(self) -> bool:
        return self.block or bool(self.controls) or self.strength is not None


def _object(value, where: str, allowed: tuple[str, ...]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyInvalid("Expected an object here.", field=where)
    for key in value:
        if key not in allowed and "@odata" not in key:
            raise PolicyInvalid(f"{key!r} is not a field Watchword knows here (known: {', '.join(allowed)}).",
                                field=f"{where}.{key}" if where else key)
    return value


def _list(container: dict, key: str, where: str, *, choices: tuple[str, ...] | None = None,
          known: frozenset[str] | None = None, kind: str = "value", canonical=None) -> list[str]:
    path = f"{where}.{key}" if where else key
    values = container.get(key)
    if values is None:
        return []
    if not isinstance(values, list):
        raise PolicyInvalid("Expected a list here.", field=path)
    if len(values) > MAX_LIST:
        raise PolicyInvalid(f"At most {MAX_LIST} entries are allowed; there are {len(values)}.", field=path)
    out: list[str] = []
    for index, value in enumerate(values):
        item = f"{path}[{index}]"
        if not isinstance(value, str) or not value or len(value) > 256:
            raise PolicyInvalid(f"Each {kind} must be a non-empty text of at most 256 characters.", field=item)
        if canonical is not None:
            value = canonical(value)
        if choices is not None and value not in choices:
            raise PolicyInvalid(f"{value[:60]!r} is not a known {kind} (known: {', '.join(choices)}).", field=item)
        if known is not None and value not in known and value not in (ALL, NONE, ALL_TRUSTED):
            raise PolicyInvalid(f"There is no {kind} {value[:60]!r} here.", field=item)
        out.append(value)
    return out


def _role(value: str) -> str:
    return ROLE_IDS.get(value.lower(), value)


def _platform(value: str) -> str:
    return {p.lower(): p for p in PLATFORMS_ALLOWED}.get(value.lower(), value)


def _specials(values: list[str], path: str, *, allow: tuple[str, ...]) -> None:
    """``All`` / ``None`` / ``AllTrusted`` stand alone in their list."""
    special = [v for v in values if v in (ALL, NONE, ALL_TRUSTED)]
    for value in special:
        if value not in allow:
            raise PolicyInvalid(f"{value!r} cannot be used here.", field=path)
    if special and len(values) > 1 and (ALL in special or NONE in special):
        raise PolicyInvalid(f"{special[0]!r} stands alone: remove the other entries or it.", field=path)


def compile_policy(document: object, *, catalog: Catalog | None = None, id: str | None = None) -> CompiledPolicy:
    """Validate a policy document and return its compiled form. ``catalog`` checks references
    (done when saving or importing); without it only the shape is checked."""
    if isinstance(document, (str, bytes)):
        if len(document) > MAX_DOCUMENT_BYTES:
            raise PolicyInvalid(f"A policy can be at most {MAX_DOCUMENT_BYTES // 1024} KB of JSON.")
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise PolicyInvalid(f"This is not valid JSON: {exc}.") from None
    if not isinstance(document, dict):
        raise PolicyInvalid("A policy is a JSON object with displayName, state, conditions and grantControls.")
    if len(json.dumps(document, default=str)) > MAX_DOCUMENT_BYTES:
        raise PolicyInvalid(f"A policy can be at most {MAX_DOCUMENT_BYTES // 1024} KB of JSON.")
    top = _object(document, "", ("id", "displayName", "state", "conditions", "grantControls", "sessionControls",
                                 "createdDateTime", "modifiedDateTime", "templateId", "description"))
    for key in ("description", "templateId"):
        if top.get(key) is not None and (not isinstance(top[key], str) or len(top[key]) > 1024):
            raise PolicyInvalid(f"{key} must be text of at most 1024 characters.", field=key)
    name = top.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise PolicyInvalid("Give the policy a name.", field="displayName")
    if len(name) > MAX_NAME:
        raise PolicyInvalid(f"A policy's name can be at most {MAX_NAME} characters.", field="displayName")
    state = top.get("state")
    if state not in STATES:
        raise PolicyInvalid("state must be enabled (on), enabledForReportingButNotEnforced (report-only) or "
                            "disabled (off).", field="state")
    c = catalog
    conditions = _object(top.get("conditions"), "conditions", (
        "users", "applications", "clientAppTypes", "platforms", "locations", "signInRiskLevels"))
    users = _object(conditions.get("users"), "conditions.users", (
        "includeUsers", "excludeUsers", "includeGroups", "excludeGroups", "includeRoles", "excludeRoles"))
    w = "conditions.users"
    include_users = _list(users, "includeUsers", w, known=c.users if c else None, kind="user")
    exclude_users = _list(users, "excludeUsers", w, known=c.users if c else None, kind="user")
    _specials(include_users, f"{w}.includeUsers", allow=(ALL, NONE))
    _specials(exclude_users, f"{w}.excludeUsers", allow=())
    include_groups = _list(users, "includeGroups", w, known=c.groups if c else None, kind="group")
    exclude_groups = _list(users, "excludeGroups", w, known=c.groups if c else None, kind="group")
    include_roles = _list(users, "includeRoles", w, choices=ROLES, kind="role", canonical=_role)
    exclude_roles = _list(users, "excludeRoles", w, choices=ROLES, kind="role", canonical=_role)
    for key, values in (("includeGroups", include_groups), ("excludeGroups", exclude_groups)):
        _specials(values, f"{w}.{key}", allow=())
    if not (include_users or include_groups or include_roles):
        raise PolicyInvalid("Choose who the policy is for: All users, or users, groups or roles.",
                            field=f"{w}.includeUsers")

    apps_doc = _object(conditions.get("applications"), "conditions.applications", (
        "includeApplications", "excludeApplications", "includeUserActions"))
    w = "conditions.applications"
    include_apps = _list(apps_doc, "includeApplications", w, known=c.apps if c else None, kind="application")
    exclude_apps = _list(apps_doc, "excludeApplications", w, known=c.apps if c else None, kind="application")
    actions = _list(apps_doc, "includeUserActions", w, choices=(ACTION_REGISTER,), kind="user action")
    _specials(include_apps, f"{w}.includeApplications", allow=(ALL, NONE))
    _specials(exclude_apps, f"{w}.excludeApplications", allow=())
    if actions and (include_apps or exclude_apps):
        raise PolicyInvalid("A policy targets applications or a user action, not both.",
                            field=f"{w}.includeUserActions")
    if actions and state == "enabledForReportingButNotEnforced":
        raise PolicyInvalid("Report-only is not available for a policy on the user action 'Register security "
                            "info' (as in the reference): turn it on or off.", field="state")
    if not (include_apps or actions):
        raise PolicyInvalid("Choose the target: All applications, some applications, or the user action "
                            "'Register security info'.", field=f"{w}.includeApplications")

    client_types = _list(conditions, "clientAppTypes", "conditions", choices=CLIENT_TYPES, kind="client app type")
    if "all" in client_types and len(client_types) > 1:
        raise PolicyInvalid("'all' stands alone: remove the other client app types or it.",
                            field="conditions.clientAppTypes")
    platforms_doc = _object(conditions.get("platforms"), "conditions.platforms",
                            ("includePlatforms", "excludePlatforms"))
    include_platforms = _list(platforms_doc, "includePlatforms", "conditions.platforms", choices=PLATFORMS_ALLOWED,
                              kind="platform", canonical=_platform)
    exclude_platforms = _list(platforms_doc, "excludePlatforms", "conditions.platforms", choices=PLATFORMS_ALLOWED,
                              kind="platform", canonical=_platform)
    if "all" in exclude_platforms:  # it would be dropped below, leaving the policy for every platform
        raise PolicyInvalid("'all' cannot be excluded: name the platforms to exclude.",
                            field=f"conditions.platforms.excludePlatforms[{exclude_platforms.index('all')}]")
    if conditions.get("platforms") is not None and not include_platforms:
        raise PolicyInvalid("Include the platforms the policy is for (or 'all').",
                            field="conditions.platforms.includePlatforms")
    locations_doc = _object(conditions.get("locations"), "conditions.locations",
                            ("includeLocations", "excludeLocations"))
    w = "conditions.locations"
    include_locations = _list(locations_doc, "includeLocations", w, known=c.locations if c else None,
                              kind="named location")
    exclude_locations = _list(locations_doc, "excludeLocations", w, known=c.locations if c else None,
                              kind="named location")
    _specials(include_locations, f"{w}.includeLocations", allow=(ALL, ALL_TRUSTED))
    _specials(exclude_locations, f"{w}.excludeLocations", allow=(ALL_TRUSTED,))
    if conditions.get("locations") is not None and not include_locations:
        raise PolicyInvalid("Include the locations the policy is for (or 'All').", field=f"{w}.includeLocations")
    risk_levels = _list(conditions, "signInRiskLevels", "conditions", choices=RISK_LEVELS, kind="risk level")

    grant = _object(top.get("grantControls"), "grantControls",
                    ("operator", "builtInControls", "authenticationStrength", "customAuthenticationFactors",
                     "termsOfUse"))
    for unused in ("customAuthenticationFactors", "termsOfUse"):
        if grant.get(unused):
            raise PolicyInvalid(f"{unused} is not something Watchword can require.", field=f"grantControls.{unused}")
    operator = grant.get("operator", "OR") if grant else "OR"
    if operator not in ("AND", "OR"):
        raise PolicyInvalid("operator must be AND (require all) or OR (require one).", field="grantControls.operator")
    controls = _list(grant, "builtInControls", "grantControls", choices=CONTROLS, kind="control")
    strength = None
    if grant.get("authenticationStrength") is not None:
        strength_doc = _object(grant["authenticationStrength"], "grantControls.authenticationStrength",
                               ("id", "displayName", "policyType", "requirementsSatisfied", "allowedCombinations",
                                "description", "createdDateTime", "modifiedDateTime"))
        strength = strength_doc.get("id")
        if not isinstance(strength, str) or not strength:
            raise PolicyInvalid("Name the authentication strength by its id.", field="grantControls.authenticationStrength.id")
        if c is not None and strength not in c.strengths:
            raise PolicyInvalid(f"There is no authentication strength {strength[:60]!r} here.",
                                field="grantControls.authenticationStrength.id")
    block = "block" in controls
    if block and (len(controls) > 1 or strength):
        raise PolicyInvalid("Block access stands alone: a policy either blocks or grants with controls.",
                            field="grantControls.builtInControls")
    if "mfa" in controls and strength:
        raise PolicyInvalid("Require MFA and an authentication strength cannot be in the same policy (the "
                            "strength already says which MFA).", field="grantControls.authenticationStrength")
    session = _object(top.get("sessionControls"), "sessionControls", (
        "signInFrequency", "persistentBrowser", "applicationEnforcedRestrictions", "cloudAppSecurity",
        "disableResilienceDefaults", "continuousAccessEvaluation", "secureSignInSession"))
    for unused in ("applicationEnforcedRestrictions", "cloudAppSecurity", "continuousAccessEvaluation",
                   "secureSignInSession", "disableResilienceDefaults"):
        if session.get(unused):
            raise PolicyInvalid(f"{unused} is not a session control Watchword has.", field=f"sessionControls.{unused}")
    frequency = _frequency(session.get("signInFrequency"))
    persistent = _persistent(session.get("persistentBrowser"), all_apps=include_apps == [ALL])
    if not (block or controls or strength or frequency is not None or persistent):
        raise PolicyInvalid("Choose what the policy does: block access, require MFA or an authentication "
                            "strength, or a session control.", field="grantControls.builtInControls")

    def split_all(values: list[str]) -> Assignment:
        return Assignment(everything=ALL in values, include=frozenset(v for v in values if v != ALL))

    return CompiledPolicy(
        id=str(id if id is not None else top.get("id") or ""), name=name.strip(), state=state,
        include_all_users=ALL in include_users,
        include_users=frozenset(v for v in include_users if v not in (ALL, NONE)),
        exclude_users=frozenset(exclude_users), include_groups=frozenset(include_groups),
        exclude_groups=frozenset(exclude_groups), include_roles=frozenset(include_roles),
        exclude_roles=frozenset(exclude_roles),
        apps=Assignment(everything=ALL in include_apps, include=frozenset(v for v in include_apps if v not in (ALL, NONE)),
                        exclude=frozenset(exclude_apps)),
        user_actions=frozenset(actions),
        client_types=frozenset() if not client_types or "all" in client_types else frozenset(client_types),
        platforms=Assignment(everything=not include_platforms or "all" in include_platforms,
                             include=frozenset(p for p in include_platforms if p != "all"),
                             exclude=frozenset(p for p in exclude_platforms if p != "all")),
        locations=Assignment(everything=not include_locations or ALL in include_locations,
                             include=frozenset(v for v in include_locations if v != ALL),
                             exclude=frozenset(exclude_locations)),
        risk_levels=frozenset(risk_levels), block=block, operator=operator,
        controls=tuple(c for c in controls if c != "block"), strength=strength,
        frequency_seconds=frequency, persistent_browser=persistent, document=copy.deepcopy(document),
    )


def _frequency(value) -> int | None:
    where = "sessionControls.signInFrequency"
    doc = _object(value, where, ("isEnabled", "type", "value", "frequencyInterval", "authenticationType"))
    if not doc or doc.get("isEnabled") is False:
        return None
    if doc.get("isEnabled") is not True:
        raise PolicyInvalid("isEnabled must be true or false.", field=f"{where}.isEnabled")
    if doc.get("authenticationType") not in (None, "primaryAndSecondaryAuthentication"):
        raise PolicyInvalid("Watchword applies the sign-in frequency to the whole sign-in: authenticationType "
                            "must be primaryAndSecondaryAuthentication.", field=f"{where}.authenticationType")
    interval = doc.get("frequencyInterval", "timeBased")
    if interval == "everyTime":
        return 0
    if interval != "timeBased":
        raise PolicyInvalid("frequencyInterval must be timeBased or everyTime.", field=f"{where}.frequencyInterval")
    unit = doc.get("type")
    if unit not in MAX_FREQUENCY:
        raise PolicyInvalid("type must be hours or days.", field=f"{where}.type")
    amount = doc.get("value")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_FREQUENCY[unit]:
        raise PolicyInvalid(f"value must be a whole number of {unit} from 1 to {MAX_FREQUENCY[unit]}.",
                            field=f"{where}.value")
    return amount * (3600 if unit == "hours" else 86400)


def _persistent(value, *, all_apps: bool) -> str | None:
    where = "sessionControls.persistentBrowser"
    doc = _object(value, where, ("isEnabled", "mode"))
    if not doc or doc.get("isEnabled") is False:
        return None
    if doc.get("isEnabled") is not True:
        raise PolicyInvalid("isEnabled must be true or false.", field=f"{where}.isEnabled")
    if doc.get("mode") not in ("always", "never"):
        raise PolicyInvalid("mode must be always or never.", field=f"{where}.mode")
    if not all_apps:
        raise PolicyInvalid("A persistent browser session can only be set for All applications.", field=where)
    return doc["mode"]


def references(policy: CompiledPolicy) -> dict[str, frozenset[str]]:
    """What a policy names, by kind (for 'used by' checks before deleting a group or location)."""
    return {"users": policy.include_users | policy.exclude_users,
            "groups": policy.include_groups | policy.exclude_groups,
            "apps": policy.apps.include | policy.apps.exclude,
            "locations": (policy.locations.include | policy.locations.exclude) - {ALL_TRUSTED},
            "strengths": frozenset({policy.strength}) if policy.strength else frozenset()}
