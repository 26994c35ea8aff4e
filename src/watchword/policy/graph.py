"""Conditional Access policies to and from Microsoft Graph's ``conditionalAccessPolicy`` JSON, so
an administrator can bring the reference's policies over and take Watchword's back. Pure.

Importing keeps what Watchword enforces and drops the rest, never silently: each dropped field or
value becomes a ``Warning`` saying what it was and what dropping it means. Dropping can weaken a
policy, so it is refused where that would leave nothing to enforce (a grant with no control, a
policy for nobody, an emptied list that would then mean "any"). References (users, groups,
applications, locations, strengths) go through the caller's ``resolve``; one it cannot map is an
error, even in an exclude list: a missing exclusion or inclusion changes who is asked for what.
Graph's ``id`` and timestamps give way to Watchword's when saving, and annotations of a property
(``authenticationStrength@odata.context``) only say where Graph read it: neither needs a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from watchword.policy import document as doc
from watchword.policy.errors import PolicyInvalid

MAX_POLICIES = 1000
MAX_MANY_BYTES = 16 * 1024 * 1024
GRAPH_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies"
ADMIN_PORTALS = "MicrosoftAdminPortals"
GUESTS = "GuestsOrExternalUsers"
BOTH_FACTORS = "primaryAndSecondaryAuthentication"
SPECIALS = {"user": (doc.ALL, doc.NONE), "app": (doc.ALL, doc.NONE), "location": (doc.ALL, doc.ALL_TRUSTED)}
NOUNS = {"user": "user", "group": "group", "app": "application", "location": "named location",
         "strength": "authentication strength"}
NO_GUESTS = "Watchword has no guest or external users; dropped. Nothing changes for its own users."
SAME = "What the policy does is unchanged."
BROADER = "The policy now applies whatever {}{{broader}}"  # {broader}: more blocked, or more asked
UNRESTRICTED = "Sessions are not restricted by it."

# Fields Graph has that Watchword does not enforce, by name: (label, why, what dropping it means).
DROPPED = {
    "templateId": ("Template", "Watchword keeps no link to Microsoft's templates", SAME),
    "userRiskLevels": ("User risk", "Watchword does not evaluate it", BROADER.format("the user risk")),
    "servicePrincipalRiskLevels": ("Service principal risk", "Watchword has no workload identities",
                                   BROADER.format("that risk")),
    "insiderRiskLevels": ("Insider risk", "Watchword does not evaluate it", BROADER.format("the insider risk")),
    "devices": ("Filter for devices", "Watchword has no device management", BROADER.format("the device")),
    "clientApplications": ("Workload identities", "Watchword has none", BROADER.format("signs in")),
    "authenticationFlows": ("Authentication flows", "Watchword does not evaluate them", BROADER.format("the flow")),
    "includeAuthenticationContextClassReferences": ("Authentication contexts", "Watchword has none",
                                                    "The policy no longer applies to them."),
    "applicationFilter": ("Filter for applications", "Watchword has no application attributes",
                          BROADER.format("the application's attributes")),
    "applicationEnforcedRestrictions": ("Use app enforced restrictions", "Watchword has no such applications",
                                        UNRESTRICTED),
    "cloudAppSecurity": ("Use Conditional Access App Control", "Watchword has no Defender for Cloud Apps",
                         UNRESTRICTED),
    "continuousAccessEvaluation": ("Customize continuous access evaluation", "Watchword has none", UNRESTRICTED),
    "disableResilienceDefaults": ("Disable resilience defaults", "Watchword has none", "Nothing changes."),
    "secureSignInSession": ("Require token protection", "Watchword does not bind sessions to devices",
                            UNRESTRICTED),
    **{key: ("Guests or external users", "Watchword has none", "Nothing changes for its own users.")
       for key in ("includeGuestsOrExternalUsers", "excludeGuestsOrExternalUsers")},
}
OTHER = {"": ("Field", "Watchword has no such field", SAME), "@": ("Metadata", "Graph's response metadata", SAME),
         "conditions": ("Condition", "Watchword does not evaluate it", BROADER.format("it said")),
         "sessionControls": ("Session control", "Watchword has no such control", UNRESTRICTED)}
# Values Graph has in a list Watchword keeps: the warning when one is dropped.
VALUES = {
    "exchangeActiveSync": "Exchange ActiveSync sign-ins never reach Watchword; dropped. Nothing changes here.",
    "easSupported": "Exchange ActiveSync sign-ins never reach Watchword; dropped. Nothing changes here.",
    "windowsPhone": "Watchword does not tell Windows Phone apart; dropped.",
    "hidden": "Watchword's sign-in risk is never hidden; dropped.",
    "urn:user:registerdevice": "Watchword has no device registration; dropped. The policy no longer applies to it.",
    "unknownFutureValue": "Graph's placeholder for values it may add; dropped.",
}
# Grant controls Watchword cannot require: (label, why).
CONTROLS = {
    "compliantDevice": ("Require compliant device", "Watchword has no device management"),
    "domainJoinedDevice": ("Require hybrid joined device", "Watchword has no device management"),
    "approvedApplication": ("Require approved client app", "Watchword has no app protection"),
    "compliantApplication": ("Require app protection policy", "Watchword has no app protection"),
    "passwordChange": ("Require password change", "Watchword does not manage passwords"),
    "unknownFutureValue": ("unknownFutureValue", "it is Graph's placeholder, not a control"),
}


class Resolver(Protocol):
    """Maps a reference (Graph id, UPN, group name, client id...) to Watchword's id, or None."""

    def user(self, value: str) -> str | None: ...
    def group(self, value: str) -> str | None: ...
    def app(self, value: str) -> str | None: ...
    def location(self, value: str) -> str | None: ...
    def strength(self, value: str) -> str | None: ...


@dataclass(frozen=True)
class Warning:
    field: str  # where in the imported JSON, e.g. grantControls.builtInControls[1]
    message: str


@dataclass(frozen=True)
class ImportResult:
    document: dict  # passes compile_policy
    warnings: tuple[Warning, ...] = ()


def _load(data, *, limit: int):
    """JSON text or bytes → a value; a value already parsed is measured as JSON. Bounded."""
    too_big = PolicyInvalid(f"At most {limit // 1024} KB of JSON can be imported at once.")
    if isinstance(data, (str, bytes, bytearray)):
        if len(data) > limit:
            raise too_big
        try:
            return json.loads(data)
        except RecursionError:
            raise PolicyInvalid("This JSON is nested too deeply to be a policy.") from None
        except ValueError as exc:
            raise PolicyInvalid(f"This is not valid JSON: {exc}.") from None
    try:
        size = len(json.dumps(data, default=str))
    except (RecursionError, ValueError):
        raise PolicyInvalid("This is nested too deeply (or loops) to be a policy.") from None
    if size > limit:
        raise too_big
    return data


def _empty(value) -> bool:
    """Null, false, empty, or switched off (``isEnabled: false``): dropping it loses nothing."""
    if isinstance(value, dict):
        return value.get("isEnabled") is False or all(_empty(v) for v in value.values())
    return value is None or value is False or value == "" or value == []


def _annotation(key: str) -> bool:
    """``authenticationStrength@odata.context``: where Graph read a property, not a setting."""
    return "@odata" in key and not key.startswith("@")


def _obj(value, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyInvalid("Expected an object here.", field=path)
    return value


def _texts(container: dict, key: str, path: str) -> list[str]:
    values = container.get(key)
    if values is None:
        return []
    if not isinstance(values, list):
        raise PolicyInvalid("Expected a list here.", field=path)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise PolicyInvalid("Each entry must be a non-empty text.", field=f"{path}[{index}]")
    return values


class _Importer:
    """One policy's import: builds the kept document and collects the warnings."""

    def __init__(self, policy: dict, resolve: Resolver) -> None:
        self.policy, self.resolve, self.warnings = policy, resolve, []
        grant = policy.get("grantControls")
        controls = grant.get("builtInControls") if isinstance(grant, dict) else None
        self.blocks = isinstance(controls, list) and "block" in controls

    def warn(self, field: str, message: str) -> None:
        self.warnings.append(Warning(field, message.replace("{broader}", ": it now blocks more sign-ins." if
                                                            self.blocks else ": more sign-ins now get its controls.")))

    def drop_rest(self, container: dict, where: str, kept: tuple[str, ...]) -> None:
        """Warn about every other field that says something, and leave it out."""
        for key, value in container.items():
            path = f"{where}.{key}" if where else key
            if key in kept or _empty(value) or _annotation(key):
                continue
            label, why, effect = DROPPED.get(key) or OTHER["@" if key.startswith("@") else where.split(".")[0]]
            self.warn(path, f"{label} ({key}): {why}; dropped. {effect}")

    def entries(self, container: dict, key: str, where: str, pick, *, required: bool = False):
        """The kept values of one list (``pick`` maps a value to what is kept, or None once it has
        warned), and the path of the first dropped one. ``required``: an emptied list would mean
        "any", so emptying it is refused."""
        path, kept, dropped = f"{where}.{key}", [], ""
        values = _texts(container, key, path)
        for index, value in enumerate(values):
            chosen = pick(value, f"{path}[{index}]")
            if chosen is None:
                dropped = dropped or f"{path}[{index}]"
            elif chosen not in kept:
                kept.append(chosen)
        if required and values and not kept:
            raise PolicyInvalid("Nothing Watchword has remains in this list once the values above are dropped, and "
                                "an empty list would mean any: the policy would change meaning.", field=path)
        return kept, dropped

    def ref(self, kind: str):
        def pick(value: str, path: str) -> str | None:
            special = {s.lower(): s for s in SPECIALS.get(kind, ())}.get(value.lower())
            if special:
                return special
            if kind == "user" and value.lower() == GUESTS.lower():
                return self.warn(path, f"{GUESTS}: {NO_GUESTS}")
            if kind == "app" and value == ADMIN_PORTALS:
                self.warn(path, f"{ADMIN_PORTALS} (Microsoft Admin Portals) is mapped to Watchword's admin pages "
                                f"({doc.APP_ADMIN}).")
                return doc.APP_ADMIN
            resolved = getattr(self.resolve, kind)(value)
            if not resolved:
                raise PolicyInvalid(f"There is no {NOUNS[kind]} {value[:80]!r} here. Map it to a Watchword "
                                    f"{NOUNS[kind]} first: an unknown reference is never dropped, as that would "
                                    f"change who or what the policy covers.", field=path)
            return str(resolved)
        return pick

    def choice(self, known: tuple[str, ...], effect: str = ""):
        def pick(value: str, path: str) -> str | None:
            canonical = {k.lower(): k for k in known}.get(value.lower())
            if canonical:
                return canonical
            if value not in VALUES:
                raise PolicyInvalid(f"{value[:60]!r} is not a value Watchword knows (known: {', '.join(known)}).",
                                    field=path)
            return self.warn(path, f"{value}: {VALUES[value]} {effect}".rstrip())
        return pick

    def role(self, effect: str):
        def pick(value: str, path: str) -> str | None:
            role = doc.ROLE_IDS.get(value.lower()) or (value if value in doc.ROLES else None)
            return role or self.warn(path, f"Directory role {value[:80]}: Watchword has only the Global, Security "
                                           f"and Authentication Administrator roles; dropped. {effect}")
        return pick

    def run(self) -> ImportResult:
        top, document = self.policy, {}
        for key in ("displayName", "state", "description"):
            if top.get(key) is not None:
                document[key] = top[key]
        conditions = _obj(top.get("conditions"), "conditions")
        document["conditions"] = {k: v for k, v in self.conditions(conditions).items() if v}
        document["grantControls"] = self.grant(_obj(top.get("grantControls"), "grantControls"))
        document["sessionControls"] = self.session(_obj(top.get("sessionControls"), "sessionControls"))
        self.drop_rest(top, "", tuple(document) + ("id", "createdDateTime", "modifiedDateTime"))
        document = {k: v for k, v in document.items() if v is not None}
        if not document.get("grantControls") and not document.get("sessionControls"):
            dropped = [w.field for w in self.warnings if w.field.startswith("sessionControls")]
            if dropped:
                raise PolicyInvalid("No control Watchword can enforce remains once the session controls it does not "
                                    "have are dropped: the policy would do nothing.", field=dropped[0])
        doc.compile_policy(document)
        return ImportResult(document, tuple(self.warnings))

    def conditions(self, conditions: dict) -> dict:
        where, out = "conditions", {}
        out["users"] = self.users(_obj(conditions.get("users"), f"{where}.users"))
        out["applications"] = self.applications(_obj(conditions.get("applications"), f"{where}.applications"))
        out["clientAppTypes"] = self.entries(conditions, "clientAppTypes", where, self.choice(doc.CLIENT_TYPES),
                                             required=True)[0]
        if not _empty(conditions.get("platforms")):
            platforms, path = _obj(conditions["platforms"], f"{where}.platforms"), f"{where}.platforms"
            out["platforms"] = {key: self.entries(platforms, key, path, self.choice(doc.PLATFORMS_ALLOWED, effect),
                                                  required=key.startswith("include"))[0]
                                for key, effect in (("includePlatforms", "The policy no longer names it."),
                                                    ("excludePlatforms", "It is no longer excluded."))}
            self.drop_rest(platforms, path, tuple(out["platforms"]))
        if not _empty(conditions.get("locations")):
            locations, path = _obj(conditions["locations"], f"{where}.locations"), f"{where}.locations"
            out["locations"] = {key: self.entries(locations, key, path, self.ref("location"))[0]
                                for key in ("includeLocations", "excludeLocations")}
            self.drop_rest(locations, path, tuple(out["locations"]))
        out["signInRiskLevels"] = self.entries(conditions, "signInRiskLevels", where, self.choice(
            doc.RISK_LEVELS, "The policy no longer names it."), required=True)[0]
        self.drop_rest(conditions, where, tuple(out))
        return {k: {i: v for i, v in value.items() if v} if isinstance(value, dict) else value
                for k, value in out.items()}

    def users(self, users: dict) -> dict:
        where, out, dropped = "conditions.users", {}, []
        for key in ("includeUsers", "excludeUsers", "includeGroups", "excludeGroups"):
            out[key], first = self.entries(users, key, where, self.ref("user" if key.endswith("Users") else "group"))
            dropped += [first] if first and key.startswith("include") else []
        out["includeRoles"], first = self.entries(users, "includeRoles", where, self.role(
            "The policy no longer applies to people in it."))
        out["excludeRoles"] = self.entries(users, "excludeRoles", where, self.role(
            "People in it are no longer excluded: the policy now applies to them too."))[0]
        guests = f"{where}.includeGuestsOrExternalUsers"
        dropped += [first] if first else [guests] if not _empty(users.get("includeGuestsOrExternalUsers")) else []
        self.drop_rest(users, where, tuple(out))
        if dropped and not (out["includeUsers"] or out["includeGroups"] or out["includeRoles"]):
            raise PolicyInvalid("Once the roles or guests Watchword does not have are dropped, the policy would "
                                "target nobody. Include users, groups or one of Watchword's roles.", field=dropped[0])
        return out

    def applications(self, apps: dict) -> dict:
        where, out = "conditions.applications", {}
        for key in ("includeApplications", "excludeApplications"):
            out[key] = self.entries(apps, key, where, self.ref("app"))[0]
        out["includeUserActions"], dropped = self.entries(apps, "includeUserActions", where,
                                                          self.choice((doc.ACTION_REGISTER,)))
        contexts = "includeAuthenticationContextClassReferences"
        dropped = dropped or (f"{where}.{contexts}" if not _empty(apps.get(contexts)) else "")
        self.drop_rest(apps, where, tuple(out))
        if dropped and not (out["includeApplications"] or out["includeUserActions"]):
            raise PolicyInvalid("Once the user actions or authentication contexts Watchword does not have are "
                                "dropped, the policy would target nothing. Choose applications first.", field=dropped)
        return out

    def grant(self, grant: dict) -> dict | None:
        """Keep block, MFA and the strength. A dropped control makes an OR policy stricter (one fewer
        way to satisfy it) and an AND policy weaker (one fewer requirement): say which. Dropping
        every control would leave a grant that asks for nothing, so that is refused."""
        where, dropped = "grantControls", []  # dropped: (path, label, why); the strength is kept by id only
        known = ("operator", "builtInControls", "authenticationStrength", "termsOfUse", "customAuthenticationFactors")
        for key, value in grant.items():
            if key not in known and not _empty(value) and not _annotation(key):
                raise PolicyInvalid(f"{key} is a grant control Watchword does not know, so it cannot tell whether "
                                    f"dropping it would weaken the policy.", field=f"{where}.{key}")
        operator = grant.get("operator") or "OR"

        def control(value: str, path: str) -> str | None:
            if value in doc.CONTROLS:
                return value
            if value not in CONTROLS:
                raise PolicyInvalid(f"{value[:60]!r} is not a grant control Watchword knows.", field=path)
            dropped.append((path, *CONTROLS[value]))

        kept = self.entries(grant, "builtInControls", where, control)[0]
        for key, label, why in (("termsOfUse", "Terms of use", "Watchword has no terms of use"),
                                ("customAuthenticationFactors", "Custom control", "Watchword has no custom controls")):
            values = _texts(grant, key, f"{where}.{key}")
            dropped += [(f"{where}.{key}[{i}]", f"{label} {v[:80]}", why) for i, v in enumerate(values)]
        strength = None
        if grant.get("authenticationStrength") is not None:
            path = f"{where}.authenticationStrength.id"
            strength = _obj(grant["authenticationStrength"], f"{where}.authenticationStrength").get("id")
            if not isinstance(strength, str) or not strength:
                raise PolicyInvalid("Name the authentication strength by its id.", field=path)
            strength = self.ref("strength")(strength, path)
        if dropped and not (kept or strength):
            raise PolicyInvalid(f"No control remains once the ones Watchword cannot enforce are dropped "
                                f"({', '.join(label for _, label, _ in dropped)}): the policy would grant access "
                                f"with nothing required. Change it to require MFA, an authentication strength, or "
                                f"to block, then import it.", field=f"{where}.builtInControls")
        still = "blocks access" if "block" in kept else "requires " + (" and " if operator == "AND" else " or ").join(
            (["MFA"] if "mfa" in kept else []) + (["the authentication strength"] if strength else []))
        for path, label, why in dropped:
            effect = (f"It was required as well (require all): the policy is now weaker, it only {still}."
                      if operator == "AND" and "block" not in kept else
                      f"It was one of the controls to choose from: the policy still {still}, which is stricter.")
            self.warn(path, f"{label}: {why}; dropped. {effect}")
        if not (kept or strength):
            return None
        return {"operator": operator, "builtInControls": kept, **({"authenticationStrength": {"id": strength}}
                                                                   if strength else {})}

    def session(self, session: dict) -> dict | None:
        out, where = {}, "sessionControls"
        frequency = _obj(session.get("signInFrequency"), f"{where}.signInFrequency")
        if frequency and frequency.get("isEnabled") is not False:
            path, kept = f"{where}.signInFrequency", ("isEnabled", "type", "value", "frequencyInterval")
            out["signInFrequency"] = {k: frequency[k] for k in kept if frequency.get(k) is not None}
            factors = frequency.get("authenticationType")
            if factors not in (None, BOTH_FACTORS):
                self.warn(f"{path}.authenticationType", f"Sign-in frequency for {str(factors)[:60]}: Watchword "
                                                        f"applies it to the whole sign-in; dropped. The password and "
                                                        f"the second factor are both asked again (stricter).")
            self.drop_rest(frequency, path, kept + ("authenticationType",))
        if not _empty(session.get("persistentBrowser")):
            out["persistentBrowser"] = session["persistentBrowser"]
        self.drop_rest(session, where, ("signInFrequency", "persistentBrowser"))
        return out or None


def import_policy(data, *, resolve: Resolver) -> ImportResult:
    """One policy exactly as Graph returns it (a dict, or JSON text / bytes) → the document to save
    and the warnings to show. Raises ``PolicyInvalid`` (with the field path) when it cannot be
    imported without changing what it protects."""
    policy = _load(data, limit=doc.MAX_DOCUMENT_BYTES)
    if not isinstance(policy, dict):
        raise PolicyInvalid("A policy is one JSON object, as Graph returns it.")
    return _Importer(policy, resolve).run()


def import_many(data, *, resolve: Resolver) -> list[ImportResult]:
    """One policy, a JSON list of policies, or Graph's list envelope ``{"value": [...]}``. Stops at
    the first policy that cannot be imported, naming it (``value[3].conditions...``), so an import
    is all or nothing."""
    loaded = _load(data, limit=MAX_MANY_BYTES)
    if isinstance(loaded, dict) and isinstance(loaded.get("value"), list) and "displayName" not in loaded:
        if loaded.get("@odata.nextLink"):
            raise PolicyInvalid("This is one page of Graph's results: fetch every page (follow @odata.nextLink) "
                                "and import them together, so no policy is left behind.", field="@odata.nextLink")
        prefix, items = "value", loaded["value"]
    elif isinstance(loaded, list):
        prefix, items = "", loaded
    else:
        return [import_policy(loaded, resolve=resolve)]
    if len(items) > MAX_POLICIES:
        raise PolicyInvalid(f"At most {MAX_POLICIES} policies can be imported at once; there are {len(items)}.",
                            field=prefix or None)
    results = []
    for index, item in enumerate(items):
        try:
            results.append(import_policy(item, resolve=resolve))
        except PolicyInvalid as exc:
            name = item.get("displayName") if isinstance(item, dict) else None
            named = f" ({name[:60]!r})" if isinstance(name, str) else ""
            where = f"{prefix}[{index}]"
            raise PolicyInvalid(f"Policy {index + 1}{named}: {exc.public_message}",
                                field=f"{where}.{exc.field}" if exc.field else where) from exc
    return results


def export_policy(document: dict, *, id: str, created: str | None, modified: str | None, describe=None) -> dict:
    """A stored document → Graph's shape, with every key Graph has (empty lists and nulls for what
    is unused) and roles as Entra's template ids. ``describe`` is accepted for callers that have
    display names; Graph's shape names references by id only, so it is not used."""
    doc.compile_policy(document)  # only a valid document is exported
    conditions = document.get("conditions") or {}
    users, apps = conditions.get("users") or {}, conditions.get("applications") or {}
    platforms, locations = conditions.get("platforms"), conditions.get("locations")
    grant, session = document.get("grantControls") or {}, document.get("sessionControls") or {}
    template_ids = {name: guid for guid, name in doc.ROLE_IDS.items()}

    def lists(source: dict, *keys: str, each=lambda v: v) -> dict:
        return {key: [each(v) for v in source.get(key) or ()] for key in keys}

    def role(value: str) -> str:
        return template_ids.get(doc.ROLE_IDS.get(value.lower(), value), value)

    frequency, persistent = (value if isinstance(value, dict) and value.get("isEnabled") is True else None
                             for value in (session.get("signInFrequency"), session.get("persistentBrowser")))
    strength = (grant.get("authenticationStrength") or {}).get("id")
    exported = {
        "id": id, "displayName": document["displayName"], "state": document["state"],
        "createdDateTime": created, "modifiedDateTime": modified,
        "conditions": {
            "userRiskLevels": [], "servicePrincipalRiskLevels": [], **lists(conditions, "signInRiskLevels"),
            "clientAppTypes": list(conditions.get("clientAppTypes") or ["all"]),
            "insiderRiskLevels": None, "authenticationFlows": None, "devices": None, "clientApplications": None,
            "platforms": lists(platforms, "includePlatforms", "excludePlatforms") if platforms else None,
            "locations": lists(locations, "includeLocations", "excludeLocations") if locations else None,
            "applications": {**lists(apps, "includeApplications", "excludeApplications", "includeUserActions"),
                             "includeAuthenticationContextClassReferences": [], "applicationFilter": None},
            "users": {**lists(users, "includeUsers", "excludeUsers", "includeGroups", "excludeGroups"),
                      **lists(users, "includeRoles", "excludeRoles", each=role),
                      "includeGuestsOrExternalUsers": None, "excludeGuestsOrExternalUsers": None},
        },
        "grantControls": {
            "operator": grant.get("operator", "OR"), **lists(grant, "builtInControls"),
            "customAuthenticationFactors": [], "termsOfUse": [],
            "authenticationStrength": {"id": strength} if strength else None,
        } if grant.get("builtInControls") or strength else None,
        "sessionControls": {
            "disableResilienceDefaults": None, "applicationEnforcedRestrictions": None, "cloudAppSecurity": None,
            "persistentBrowser": {"isEnabled": True, "mode": persistent["mode"]} if persistent else None,
            "signInFrequency": {
                "value": frequency.get("value"), "type": frequency.get("type"), "authenticationType": BOTH_FACTORS,
                "frequencyInterval": frequency.get("frequencyInterval", "timeBased"), "isEnabled": True,
            } if frequency else None,
        } if frequency or persistent else None,
    }
    if document.get("description"):
        exported["description"] = document["description"]
    return exported


def export_many(policies: list[dict]) -> dict:
    """Policies already in Graph's shape (from ``export_policy``) → Graph's list envelope."""
    return {"@odata.context": GRAPH_CONTEXT, "value": list(policies)}
