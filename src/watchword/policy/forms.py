"""The Conditional Access admin forms: a policy as an administrator chooses it (turned into the
Graph-shaped document ``services.save_policy`` validates), the import form and the what-if form.

The forms only read and carry values. What a valid policy is gets decided in one place,
``policy.document.compile_policy``; its errors name a document path, and ``field_for`` says which
input that path came from, so each message appears next to what the administrator typed.
"""

from __future__ import annotations

import re

from django import forms

from watchword.policy import document as doc
from watchword.policy import strengths as st
from watchword.policy.resolve import DatabaseResolver

STATE_CHOICES = [("enabledForReportingButNotEnforced", "Report-only"), ("enabled", "On"), ("disabled", "Off")]
STATE_LABELS = dict(STATE_CHOICES)
ROLE_CHOICES = [("global_admin", "Global Administrator"), ("security_admin", "Security Administrator"),
                ("authentication_admin", "Authentication Administrator")]
CLIENT_CHOICES = [("browser", "Browser"), ("mobileAppsAndDesktopClients", "Mobile apps and desktop clients"),
                  ("radius", "RADIUS (VPN and network devices)"),
                  ("api", "Verification API (applications asking Watchword)"),
                  ("other", "Other clients (password only; they can't do MFA)")]
PLATFORM_CHOICES = [("android", "Android"), ("iOS", "iOS"), ("windows", "Windows"), ("macOS", "macOS"),
                    ("linux", "Linux")]
RISK_CHOICES = [("high", "High"), ("medium", "Medium"), ("low", "Low"), ("none", "No risk")]
ACTION_LABEL = "Register security info"
# A policy's part in a sign-in (``engine.PolicyResult.result``, the sign-in log's entries), in words.
RESULT_LABELS = {"applied": "Applied", "notApplied": "Not applied", "reportOnlyNotApplied": "Report-only: not applied",
                 "reportOnlyWouldBlock": "Report-only: would block",
                 "reportOnlyWouldRequireMfa": "Report-only: would require MFA",
                 "reportOnlySuccess": "Report-only: success"}
CONTROL_LABELS = {"block": "Block access", "mfa": "Require MFA", "signInFrequency": "Sign-in frequency"}
BOTH_FACTORS = "primaryAndSecondaryAuthentication"
MAX_NAMES_TEXT = 64 * 1024

# A document path → the input it came from; the first prefix that matches wins. A prefix ending
# in "[" matches list entries only (the list as a whole maps to the choice that made it).
FIELD_PATHS = (
    ("displayName", "name"), ("state", "state"),
    ("conditions.users.includeUsers[", "include_users"), ("conditions.users.includeUsers", "users_mode"),
    ("conditions.users.excludeUsers", "exclude_users"),
    ("conditions.users.includeGroups", "include_groups"), ("conditions.users.excludeGroups", "exclude_groups"),
    ("conditions.users.includeRoles", "include_roles"), ("conditions.users.excludeRoles", "exclude_roles"),
    ("conditions.applications.includeApplications[", "include_apps"),
    ("conditions.applications.includeApplications", "target_mode"),
    ("conditions.applications.excludeApplications", "exclude_apps"),
    ("conditions.applications.includeUserActions", "target_mode"),
    ("conditions.clientAppTypes", "client_types"),
    ("conditions.platforms.includePlatforms", "include_platforms"),
    ("conditions.platforms.excludePlatforms", "exclude_platforms"), ("conditions.platforms", "platforms_mode"),
    ("conditions.locations.includeLocations", "include_locations"),
    ("conditions.locations.excludeLocations", "exclude_locations"), ("conditions.locations", "locations_mode"),
    ("conditions.signInRiskLevels", "risk_levels"),
    ("grantControls.authenticationStrength", "strength"), ("grantControls.operator", "operator"),
    ("grantControls", "grant_mode"),
    ("sessionControls.signInFrequency.value", "frequency_value"),
    ("sessionControls.signInFrequency.type", "frequency_unit"),
    ("sessionControls.signInFrequency", "frequency_mode"),
    ("sessionControls.persistentBrowser", "persistent_browser"),
)


def field_for(path: str | None) -> str | None:
    """The policy form's input a ``PolicyInvalid.field`` path is about (None: the form as a whole)."""
    for prefix, name in FIELD_PATHS:
        if path and (path.startswith(prefix) if prefix.endswith("[") else
                     path == prefix or path.startswith((prefix + ".", prefix + "["))):
            return name
    return None


def control_text(control: str) -> str:
    """One of ``engine.PolicyResult.controls`` in words."""
    kind, _, value = str(control).partition(":")
    if kind == "authenticationStrength":
        return f"Require authentication strength '{value}'"
    if kind == "persistentBrowser":
        return f"Persistent browser session: {value}"
    return CONTROL_LABELS.get(control, str(control))


def strength_choices() -> list[tuple[str, str]]:
    from watchword.policy.models import AuthenticationStrength

    return [(s.id, f"{s.name} (built-in)") for s in st.BUILT_IN.values()] + [
        (str(pk), name) for pk, name in AuthenticationStrength.objects.values_list("pk", "display_name")]


def _choices(label: str, choices=(), *, help_text: str = "", radio: bool = False, select: bool = False):
    widget = forms.RadioSelect if radio else forms.SelectMultiple(attrs={"size": 6}) if select \
        else forms.CheckboxSelectMultiple
    kind = forms.ChoiceField if radio else forms.MultipleChoiceField
    return kind(label=label, choices=choices, required=False, help_text=help_text, widget=widget,
                error_messages={"invalid_choice": "Choose from the list: %(value)s is not one of the choices."})


def _names(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=MAX_NAMES_TEXT, help_text=help_text,
                           widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}))


def _lists(**lists) -> dict:
    """The lists with something in them: an empty include list is kept out (the compiler then
    says what is missing), an empty exclude list means nothing."""
    return {key: value for key, value in lists.items() if value}


class PolicyForm(forms.Form):
    name = forms.CharField(label="Name", max_length=doc.MAX_NAME, required=False,
                           widget=forms.TextInput(attrs={"aria-required": "true", "autocomplete": "off"}))
    state = _choices("State", STATE_CHOICES, radio=True,
                     help_text="Report-only evaluates the policy and records what it would have done in the "
                               "sign-in logs, without enforcing it. Check its effect there before turning it on.")
    users_mode = _choices("Who", [("all", "All users"), ("some", "Select users, groups and roles")], radio=True)
    include_users = _names("Users", "Sign-in names, one per line or separated by commas (used with Select users, "
                                    "groups and roles).")
    include_groups = _choices("Groups", select=True, help_text="Members of these groups (used with Select users, "
                                                               "groups and roles).")
    include_roles = _choices("Roles", ROLE_CHOICES, help_text="People holding these admin roles (used with Select "
                                                              "users, groups and roles).")
    exclude_users = _names("Exclude users", "Sign-in names, one per line or separated by commas. Exclude an "
                                            "emergency (break-glass) administrator from policies that block.")
    exclude_groups = _choices("Exclude groups", select=True)
    exclude_roles = _choices("Exclude roles", ROLE_CHOICES)
    target_mode = _choices("Target", [("all", "All applications"), ("some", "Select applications"),
                                      ("action", f"User action: {ACTION_LABEL}")], radio=True)
    include_apps = _choices("Applications", help_text="Used with Select applications.")
    exclude_apps = _choices("Exclude applications", help_text="Not used with the user action.")
    client_types = _choices("Client apps", CLIENT_CHOICES, help_text="None chosen: any client.")
    platforms_mode = _choices("Device platforms", [("any", "Any device"), ("some", "Select device platforms")],
                              radio=True, help_text="Read from the browser's or app's user agent: claimed, not "
                                                    "proven. An unknown platform matches only Any device.")
    include_platforms = _choices("Include platforms", PLATFORM_CHOICES, help_text="Used with Select device "
                                                                                  "platforms.")
    exclude_platforms = _choices("Exclude platforms", PLATFORM_CHOICES)
    locations_mode = _choices("Locations", [("any", "Any location"), ("trusted", "All trusted locations"),
                                            ("some", "Selected named locations")], radio=True)
    include_locations = _choices("Include named locations", help_text="Used with Selected named locations.")
    exclude_trusted = forms.BooleanField(label="Exclude all trusted locations", required=False)
    exclude_locations = _choices("Exclude named locations")
    risk_levels = _choices("Sign-in risk", RISK_CHOICES, help_text="None chosen: any risk. Watchword rates the "
                                                                   "risk from its own signals (unfamiliar network, "
                                                                   "wrong passwords, fraud reports).")
    grant_mode = _choices("Grant", [("block", "Block access"), ("grant", "Grant access")], radio=True)
    require_mfa = forms.BooleanField(label="Require multifactor authentication", required=False)
    strength = forms.ChoiceField(label="Require authentication strength", required=False,
                                 help_text="Instead of Require multifactor authentication, to say which methods "
                                           "will do.",
                                 error_messages={"invalid_choice": "Choose a strength from the list."})
    operator = _choices("For multiple controls", [("AND", "Require all the selected controls"),
                                                  ("OR", "Require one of the selected controls")], radio=True)
    frequency_mode = _choices("Sign-in frequency", [("", "Not set"), ("periodic", "Periodic reauthentication"),
                                                    ("every_time", "Every time")], radio=True,
                              help_text="How long a sign-in lasts before the person must sign in again, with "
                                        "MFA where the policy asks for it.")
    frequency_value = forms.CharField(label="Sign in again after", required=False, max_length=4,
                                      widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "short",
                                                                    "autocomplete": "off"}))
    frequency_unit = forms.ChoiceField(label="Unit", choices=[("hours", "Hours"), ("days", "Days")], required=False,
                                       error_messages={"invalid_choice": "Choose hours or days."})
    persistent_browser = forms.ChoiceField(
        label="Persistent browser session", required=False,
        choices=[("", "Not set"), ("always", "Always persistent"), ("never", "Never persistent")],
        help_text="Whether the browser stays signed in after it is closed. Only with All applications.",
        error_messages={"invalid_choice": "Choose Always persistent, Never persistent or Not set."})
    confirm_lockout = forms.BooleanField(label="I understand, save anyway", required=False)

    def __init__(self, *args, named: dict[str, str] | None = None, **kwargs):
        """``named``: the people the stored policy names already ({sign-in name or id: id}); they
        stay acceptable once gone (soft-deleted by a sync), as ``save_policy`` accepts them."""
        from watchword.directory.models import Group
        from watchword.policy.models import NamedLocation
        from watchword.policy.services import applications

        self.named = {key.lower(): value for key, value in (named or {}).items()}
        kwargs.setdefault("initial", {"state": "enabledForReportingButNotEnforced", "users_mode": "some",
                                      "target_mode": "all", "platforms_mode": "any", "locations_mode": "any",
                                      "grant_mode": "grant", "operator": "OR", "frequency_mode": "",
                                      "frequency_unit": "hours"})
        super().__init__(*args, **kwargs)
        self.resolver = DatabaseResolver()
        groups = [(str(pk), name) for pk, name in Group.objects.values_list("pk", "name")]
        apps = applications()
        locations = [(str(pk), name) for pk, name in NamedLocation.objects.values_list("pk", "display_name")]
        for name, choices in (("include_groups", groups), ("exclude_groups", groups), ("include_apps", apps),
                              ("exclude_apps", apps), ("include_locations", locations),
                              ("exclude_locations", locations)):
            self.fields[name].choices = choices
        self.fields["strength"].choices = [("", "Not required")] + strength_choices()

    # --- reading what was typed -----------------------------------------------------------------

    def _people(self, name: str) -> list[str]:
        """Sign-in names (or Watchword ids) → ids, one error per name not found."""
        text = self.cleaned_data.get(name) or ""
        ids, unknown = [], []
        for token in re.split(r"[\s,;]+", text):
            if not token:
                continue
            found = self.resolver.user(token) or self.named.get(token.lower())
            if found is None:
                unknown.append(token)
            elif found not in ids:
                ids.append(found)
        if unknown:
            raise forms.ValidationError([f"There is no one with the sign-in name {token[:80]!r}." for token in unknown])
        if len(ids) > doc.MAX_LIST:
            raise forms.ValidationError(f"At most {doc.MAX_LIST} people can be named here.")
        return ids

    def clean_include_users(self) -> list[str]:
        return self._people("include_users")

    def clean_exclude_users(self) -> list[str]:
        return self._people("exclude_users")

    # --- to the document ------------------------------------------------------------------------

    def document(self, *, keep: dict | None = None) -> dict:
        """The Graph-shaped document for ``save_policy`` (after ``is_valid()``); ``keep`` is the
        stored document, whose description the form does not edit."""
        d = self.cleaned_data
        some_users = d.get("users_mode") != "all"
        users = {"includeUsers": d["include_users"] if some_users else [doc.ALL],
                 "excludeUsers": d["exclude_users"],
                 "includeGroups": d["include_groups"] if some_users else [],
                 "excludeGroups": d["exclude_groups"],
                 "includeRoles": d["include_roles"] if some_users else [],
                 "excludeRoles": d["exclude_roles"]}
        target = d.get("target_mode") or "all"
        if target == "action":
            applications = {"includeUserActions": [doc.ACTION_REGISTER]}
        else:
            applications = {"includeApplications": [doc.ALL] if target == "all" else d["include_apps"],
                            "excludeApplications": d["exclude_apps"]}
        conditions = {"users": _lists(**users), "applications": _lists(**applications)}
        if d["client_types"]:
            conditions["clientAppTypes"] = d["client_types"]
        platforms_some = d.get("platforms_mode") == "some"
        if platforms_some or d["exclude_platforms"]:
            conditions["platforms"] = _lists(includePlatforms=d["include_platforms"] if platforms_some else ["all"],
                                             excludePlatforms=d["exclude_platforms"])
        excluded = ([doc.ALL_TRUSTED] if d["exclude_trusted"] else []) + d["exclude_locations"]
        mode = d.get("locations_mode") or "any"
        if mode != "any" or excluded:
            included = {"any": [doc.ALL], "trusted": [doc.ALL_TRUSTED]}.get(mode, d["include_locations"])
            conditions["locations"] = _lists(includeLocations=included, excludeLocations=excluded)
        if d["risk_levels"]:
            conditions["signInRiskLevels"] = d["risk_levels"]
        document = {"displayName": d["name"], "state": d.get("state") or "", "conditions": conditions}
        if keep and keep.get("description"):
            document["description"] = keep["description"]
        if d.get("grant_mode") == "block":
            document["grantControls"] = {"operator": "OR", "builtInControls": ["block"]}
        elif d["require_mfa"] or d["strength"]:
            document["grantControls"] = {"operator": d.get("operator") or "OR",
                                         "builtInControls": ["mfa"] if d["require_mfa"] else []}
            if d["strength"]:
                document["grantControls"]["authenticationStrength"] = {"id": d["strength"]}
        session = {}
        if d.get("frequency_mode") == "every_time":
            session["signInFrequency"] = {"isEnabled": True, "frequencyInterval": "everyTime",
                                          "authenticationType": BOTH_FACTORS}
        elif d.get("frequency_mode") == "periodic":
            value = d["frequency_value"].strip()
            session["signInFrequency"] = {"isEnabled": True, "frequencyInterval": "timeBased",
                                          "type": d["frequency_unit"] or "hours",
                                          "value": int(value) if value.isdigit() and len(value) < 5 else value,
                                          "authenticationType": BOTH_FACTORS}
        if d["persistent_browser"]:
            session["persistentBrowser"] = {"isEnabled": True, "mode": d["persistent_browser"]}
        if session:
            document["sessionControls"] = session
        return document


def initial_for(document: dict, *, upns: dict[str, str]) -> dict:
    """A stored document as the policy form shows it; ``upns`` names people by id (an id with no
    person is shown as it is, so saving names it and says so)."""
    conditions = document.get("conditions") or {}
    users, apps = conditions.get("users") or {}, conditions.get("applications") or {}
    platforms, locations = conditions.get("platforms") or {}, conditions.get("locations") or {}
    grant, session = document.get("grantControls") or {}, document.get("sessionControls") or {}
    include_users = users.get("includeUsers") or []
    include_apps = apps.get("includeApplications") or []
    include_platforms = platforms.get("includePlatforms") or []
    include_locations = locations.get("includeLocations") or []
    exclude_locations = locations.get("excludeLocations") or []

    def people(ids) -> str:
        return "\n".join(upns.get(str(i), str(i)) for i in ids if i not in (doc.ALL, doc.NONE))

    def roles(values) -> list[str]:
        return [doc.ROLE_IDS.get(str(v).lower(), v) for v in values or ()]

    frequency = session.get("signInFrequency") or {}
    frequency_on = frequency.get("isEnabled") is True
    persistent = session.get("persistentBrowser") or {}
    controls = grant.get("builtInControls") or []
    return {
        "name": document.get("displayName", ""), "state": document.get("state", ""),
        "users_mode": "all" if doc.ALL in include_users else "some",
        "include_users": people(include_users), "exclude_users": people(users.get("excludeUsers") or []),
        "include_groups": users.get("includeGroups") or [], "exclude_groups": users.get("excludeGroups") or [],
        "include_roles": roles(users.get("includeRoles")), "exclude_roles": roles(users.get("excludeRoles")),
        "target_mode": "action" if apps.get("includeUserActions") else "all" if doc.ALL in include_apps else "some",
        "include_apps": [a for a in include_apps if a != doc.ALL],
        "exclude_apps": apps.get("excludeApplications") or [],
        "client_types": [c for c in conditions.get("clientAppTypes") or [] if c != "all"],
        "platforms_mode": "some" if include_platforms and "all" not in include_platforms else "any",
        "include_platforms": [p for p in include_platforms if p != "all"],
        "exclude_platforms": platforms.get("excludePlatforms") or [],
        "locations_mode": ("trusted" if doc.ALL_TRUSTED in include_locations else
                           "some" if include_locations and doc.ALL not in include_locations else "any"),
        "include_locations": [v for v in include_locations if v not in (doc.ALL, doc.ALL_TRUSTED)],
        "exclude_trusted": doc.ALL_TRUSTED in exclude_locations,
        "exclude_locations": [v for v in exclude_locations if v != doc.ALL_TRUSTED],
        "risk_levels": conditions.get("signInRiskLevels") or [],
        "grant_mode": "block" if "block" in controls else "grant",
        "require_mfa": "mfa" in controls,
        "strength": (grant.get("authenticationStrength") or {}).get("id") or "",
        "operator": grant.get("operator") or "OR",
        "frequency_mode": ("" if not frequency_on else
                           "every_time" if frequency.get("frequencyInterval") == "everyTime" else "periodic"),
        "frequency_value": str(frequency.get("value") or "") if frequency_on else "",
        "frequency_unit": frequency.get("type") or "hours",
        "persistent_browser": persistent.get("mode", "") if persistent.get("isEnabled") is True else "",
    }


class ImportForm(forms.Form):
    text = forms.CharField(label="Paste JSON", required=False, max_length=2 * 1024 * 1024,
                           widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "autocomplete": "off"}),
                           help_text="One policy, a list of policies, or Graph's response {\"value\": [...]}, as "
                                     "GET /identity/conditionalAccess/policies returns it.")
    file = forms.FileField(label="Or upload a JSON file", required=False,
                           widget=forms.ClearableFileInput(attrs={"accept": "application/json,.json"}))
    confirm_lockout = forms.BooleanField(label="I understand, import anyway", required=False)

    MAX_FILE = 16 * 1024 * 1024

    def clean(self):
        data = super().clean()
        upload, text = data.get("file"), (data.get("text") or "").strip()
        if upload is not None and text:
            raise forms.ValidationError("Paste the JSON or upload a file, not both.")
        if upload is None and not text:
            self.add_error("text", "Paste the policies' JSON, or choose a file to upload.")
        if upload is not None and upload.size > self.MAX_FILE:
            self.add_error("file", f"The file is larger than {self.MAX_FILE // (1024 * 1024)} MB.")
        return data

    def payload(self) -> bytes | str:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            return upload.read(self.MAX_FILE + 1)
        return self.cleaned_data["text"]

    @property
    def source_field(self) -> str:
        return "file" if self.cleaned_data.get("file") is not None else "text"


class WhatIfForm(forms.Form):
    user = forms.CharField(label="Person (sign-in name)", max_length=254, required=False,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                         "aria-required": "true"}))
    app = forms.ChoiceField(label="Application", required=False,
                            error_messages={"invalid_choice": "Choose an application from the list."})
    client = forms.ChoiceField(label="Client app", choices=CLIENT_CHOICES, required=False, initial="browser",
                               error_messages={"invalid_choice": "Choose a client app from the list."})
    ip = forms.CharField(label="IP address (optional)", max_length=64, required=False,
                         widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                         help_text="Where the sign-in comes from, like 203.0.113.9 or 2001:db8::5. Empty: unknown "
                                   "(matches no named location).")
    platform = forms.ChoiceField(label="Device platform", choices=[("", "Unknown")] + PLATFORM_CHOICES,
                                 required=False, error_messages={"invalid_choice": "Choose a platform from the list."})
    risk = forms.ChoiceField(label="Sign-in risk", required=False,
                             choices=[("", "From Watchword's signals for this person now")] + RISK_CHOICES,
                             error_messages={"invalid_choice": "Choose a risk level from the list."})
    user_action = forms.BooleanField(label=f"The person is registering security info (user action: {ACTION_LABEL})",
                                     required=False)

    # what_if's field names → this form's
    FIELDS = {"app": "app", "client": "client", "ip": "ip", "platform": "platform", "risk": "risk",
              "userAction": "user_action", "user": "user"}

    def __init__(self, *args, **kwargs):
        from watchword.policy.services import applications

        super().__init__(*args, **kwargs)
        self.fields["app"].choices = applications()

    def clean_user(self):
        from watchword.directory.models import User, normalise_upn

        name = normalise_upn(self.cleaned_data.get("user"))
        if not name:
            raise forms.ValidationError("Type the sign-in name of the person signing in.")
        person = User.objects.filter(upn=name, deleted_at__isnull=True).first()
        if person is None:
            raise forms.ValidationError(f"There is no one with the sign-in name {name[:80]!r}.")
        return person
