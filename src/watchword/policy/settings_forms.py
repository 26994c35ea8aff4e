"""The forms of Admin → Security's settings pages: Security Defaults, named locations,
authentication strengths, the authentication-methods policy and the MFA settings.

The forms only carry the values as typed (bounded, no NUL) and turn them into what the services
take; what is valid is decided in one place, ``policy.services`` / ``policy.mfa_settings`` /
``policy.methods``. ``add_service_error`` puts a service's error next to the field it names, and
for a textarea of one value per line says which line the bad value was typed on (blank lines are
skipped but counted, so ``ipRanges[3]`` is line 4 only when no blank line came before it).
"""

from __future__ import annotations

import re

from django import forms

from watchword.core.errors import WatchwordError
from watchword.policy import strengths as st
from watchword.policy.errors import PolicyInvalid
from watchword.policy.methods import CONFIGS, MethodsPolicy, compile_methods_policy
from watchword.policy.mfa_settings import NUMBERS, clean

NUMBER = {"inputmode": "numeric", "class": "short", "autocomplete": "off"}
INDEXED = re.compile(r"^(?P<base>.*?)\[(?P<index>\d+)\]$")
MAX_LINES_TEXT = 100_000
YES_NO = [("yes", "Yes"), ("no", "No")]

# Graph's allowedCombinations names, in words; the four Watchword can prove come first.
COMBINATION_LABELS = {
    st.FACTOR_PUSH: "Password + Authenticator notification",
    st.FACTOR_CODE: "Password + Authenticator code",
    st.FACTOR_TEXT: "Password + text message",
    st.FACTOR_CALL: "Password + voice call",
    st.FACTOR_HARDWARE_CODE: "Password + hardware token code",
    "fido2": "Passkey (FIDO2 security key)",
    "windowsHelloForBusiness": "Windows Hello for Business",
    "x509CertificateMultiFactor": "Certificate (multifactor)",
    "x509CertificateSingleFactor": "Certificate (single factor)",
    "deviceBasedPush": "Phone sign-in (Authenticator, no password)",
    "temporaryAccessPassOneTime": "Temporary Access Pass (one-time use)",
    "temporaryAccessPassMultiUse": "Temporary Access Pass (multi-use)",
    "federatedMultiFactor": "Federated MFA (another identity provider)",
    "federatedSingleFactor": "Federated single factor",
    "password,federatedSingleFactor": "Password + federated single factor",
    "sms": "Text message alone (SMS sign-in)",
    "password": "Password alone",
    "qrCodePin": "QR code + PIN",
}
AVAILABLE = [c for c in COMBINATION_LABELS if c in st.WATCHWORD_FACTORS]
NOT_YET = [c for c in COMBINATION_LABELS if c not in st.WATCHWORD_FACTORS] + sorted(
    st.KNOWN_COMBINATIONS - set(COMBINATION_LABELS))


def combination_label(name: str) -> str:
    return COMBINATION_LABELS.get(name, name)


def combinations_in_words(names) -> tuple[list[str], list[str]]:
    """In words: the combinations Watchword can check, and those it can't yet."""
    order = {name: i for i, name in enumerate(AVAILABLE + NOT_YET)}
    ordered = sorted(names, key=lambda n: (order.get(n, len(order)), n))
    return ([combination_label(n) for n in ordered if n in st.WATCHWORD_FACTORS],
            [combination_label(n) for n in ordered if n not in st.WATCHWORD_FACTORS])


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """The non-empty lines of a textarea with their line numbers (from 1)."""
    return [(number, line.strip()) for number, line in enumerate((text or "").splitlines(), 1) if line.strip()]


def _text(label: str, *, max_length: int, help_text: str = "", widget=None, attrs: dict | None = None):
    """Optional at the form level: a missing value gets the service's own message."""
    widget = widget or forms.TextInput()
    widget.attrs.update({"spellcheck": "false", **(attrs or {})})
    return forms.CharField(label=label, max_length=max_length, required=False, help_text=help_text, widget=widget)


def _lines(label: str, *, help_text: str, rows: int = 6):
    return _text(label, max_length=MAX_LINES_TEXT, help_text=help_text, widget=forms.Textarea(attrs={"rows": rows}),
                 attrs={"autocomplete": "off", "placeholder": "203.0.113.0/24\n2001:db8:10::/48"})


def _number(value: str):
    """A whole number as typed, or None (which the service refuses with its own message)."""
    text = (value or "").strip()
    return int(text) if re.fullmatch(r"-?[0-9]{1,9}", text) else None


class TickedField(forms.MultipleChoiceField):
    """Boxes to tick. Any value is carried on to the service, which names the one it does not
    know in its own words (a group deleted since the page was opened, say)."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def valid_value(self, value) -> bool:
        return isinstance(value, str) and 0 < len(value) <= 64


class ServiceErrors:
    """Puts a service's error next to the form field it names."""

    #: the service's field (without an index) → the form's field
    service_fields: dict[str, str] = {}

    def line_numbers(self, name: str) -> list[int]:
        """For a field of one value per line: the line each value came from."""
        return [number for number, _ in getattr(self, "_lines", {}).get(name, [])]

    def add_service_error(self, exc: WatchwordError) -> None:
        path = exc.field or ""
        match = INDEXED.match(path)
        base, index = (match["base"], int(match["index"])) if match else (path, None)
        name = self.service_fields.get(base)
        message = exc.public_message
        numbers = self.line_numbers(name) if name else []
        if index is not None and index < len(numbers):
            message = f"Line {numbers[index]}: {message}"
        self.add_error(name if name in self.fields else None, message)

    def summary_label(self, name: str) -> str:
        return self.fields[name].label

    @property
    def error_summary(self) -> list[tuple[str, str, str]]:
        """(anchor, what, message) for each error, for the list above the form."""
        found = [(self[name].auto_id, self.summary_label(name), error)
                 for name in self.fields for error in self[name].errors]
        return found + [("", "", error) for error in self.non_field_errors()]

    def lines_of(self, name: str) -> list[str]:
        """The values of a one-per-line field (remembering their line numbers for errors)."""
        found = numbered_lines(self.cleaned_data.get(name, ""))
        self._lines = {**getattr(self, "_lines", {}), name: found}
        return [text for _, text in found]


# --- Security Defaults ---------------------------------------------------------------------------

class SecurityDefaultsForm(ServiceErrors, forms.Form):
    service_fields = {"isEnabled": "enabled"}

    enabled = forms.ChoiceField(label="Security Defaults", choices=YES_NO, widget=forms.RadioSelect,
                                error_messages={"required": "Choose Yes or No.", "invalid_choice": "Choose Yes or No."})

    def turned_on(self) -> bool:
        return self.cleaned_data["enabled"] == "yes"


# --- named locations -----------------------------------------------------------------------------

class LocationForm(ServiceErrors, forms.Form):
    service_fields = {"displayName": "name", "ipRanges": "ranges", "isTrusted": "trusted"}

    name = _text("Name", max_length=256, help_text="Like Head office or Leeds branch.", attrs={"autocomplete": "off"})
    ranges = _lines("IP ranges (one per line)",
                    help_text="IPv4 or IPv6, like 203.0.113.0/24 or 2001:db8:10::/48, or a single address. An IPv4 "
                              "range can be at most /9 wide, an IPv6 range /16.")
    trusted = forms.BooleanField(label="Mark as trusted location", required=False,
                                 help_text="It then counts as one of the \u201cAll trusted locations\u201d a "
                                           "Conditional Access policy can include or exclude.")

    def location_data(self) -> dict:
        return {"name": self.cleaned_data.get("name", ""), "ranges": self.lines_of("ranges"),
                "trusted": bool(self.cleaned_data.get("trusted"))}


def location_initial(location) -> dict:
    return {"name": location.display_name, "ranges": "\n".join(location.ranges), "trusted": location.trusted}


# --- authentication strengths --------------------------------------------------------------------

class StrengthForm(ServiceErrors, forms.Form):
    service_fields = {"displayName": "name", "description": "description", "allowedCombinations": "combinations"}

    name = _text("Name", max_length=st.MAX_CUSTOM_NAME, attrs={"autocomplete": "off"},
                 help_text="Like Authenticator app only.")
    description = _text("Description (optional)", max_length=512,
                        help_text="What the strength is for, shown to other administrators.")
    combinations = TickedField(label="Allowed combinations",
                               choices=[(c, combination_label(c)) for c in AVAILABLE + NOT_YET],
                               help_text="A sign-in satisfies the strength when it used one of these.")

    def _options(self, names) -> list:
        wanted = set(names)
        return [option for option in self["combinations"] if option.data["value"] in wanted]

    @property
    def available_options(self):
        return self._options(AVAILABLE)

    @property
    def unavailable_options(self):
        return self._options(NOT_YET)

    @property
    def unavailable_selected(self) -> bool:
        return bool(set(self["combinations"].value() or ()) & set(NOT_YET))

    def strength_data(self) -> dict:
        return {"name": self.cleaned_data.get("name", ""), "description": self.cleaned_data.get("description", ""),
                "combinations": list(self.cleaned_data.get("combinations") or [])}


def strength_initial(strength) -> dict:
    return {"name": strength.display_name, "description": strength.description,
            "combinations": list(strength.combinations)}


# --- the authentication-methods policy -----------------------------------------------------------

# Each configuration's form prefix and section title.
SECTIONS = {
    "microsoftAuthenticator": ("authenticator", "Authenticator app notifications"),
    "softwareOath": ("codes", "Authenticator codes"),
    "sms": ("text", "Text message"),
    "voice": ("voice", "Voice call"),
}
SECTION_NOTES = {
    "microsoftAuthenticator": "Sign-in requests sent to the Watchword Authenticator app, approved with a number.",
    "softwareOath": "Six-digit codes from the Watchword Authenticator app or any other authenticator app.",
    "sms": "A code sent by text message to the person's mobile phone.",
    "voice": "An automated call to the person's phone, answered by pressing #.",
}
# Per-configuration settings: (form field suffix, Graph's name).
SETTINGS = {
    "microsoftAuthenticator": (("show_app_name", "showAppName"), ("show_location", "showLocation")),
    "sms": (("allowed_countries", "allowedCountries"),),
    "voice": (("office_phone", "isOfficePhoneAllowed"),),
}
TARGETS = [("all", "All users"), ("groups", "Chosen groups")]
STATES = [("enabled", "Yes"), ("disabled", "No")]
COUNTRY_SPLIT = re.compile(r"[\s,;]+")


class MethodsPolicyForm(ServiceErrors, forms.Form):
    def __init__(self, *args, groups: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.service_fields = {}
        for config, (p, title) in SECTIONS.items():
            self.fields[f"{p}_state"] = forms.ChoiceField(
                label="Enabled", choices=STATES, widget=forms.RadioSelect,
                error_messages={"required": "Choose Yes or No.", "invalid_choice": "Choose Yes or No."})
            self.fields[f"{p}_target"] = forms.ChoiceField(
                label="Who may use it", choices=TARGETS, widget=forms.RadioSelect,
                error_messages={"required": "Choose All users or Chosen groups.",
                                "invalid_choice": "Choose All users or Chosen groups."})
            self.fields[f"{p}_include_groups"] = TickedField(
                label="Chosen groups", choices=groups, help_text="Used when \u201cChosen groups\u201d is selected.")
            self.fields[f"{p}_exclude_groups"] = TickedField(
                label="Excluded groups", choices=groups,
                help_text="Members of these groups can't use it, even when they are also in a chosen group.")
            self.service_fields.update({config: f"{p}_state", f"{config}.state": f"{p}_state",
                                        f"{config}.includeGroups": f"{p}_include_groups",
                                        f"{config}.excludeGroups": f"{p}_exclude_groups"})
            for suffix, graph_name in SETTINGS.get(config, ()):
                self.service_fields[f"{config}.{graph_name}"] = f"{p}_{suffix}"
        self.fields["authenticator_show_app_name"] = forms.BooleanField(
            label="Show application name", required=False,
            help_text="The notification says which application the sign-in is for.")
        self.fields["authenticator_show_location"] = forms.BooleanField(
            label="Show geographic location", required=False,
            help_text="The notification shows roughly where the sign-in comes from, judged from its IP address.")
        self.fields["text_allowed_countries"] = _text(
            "Allowed countries", max_length=1024, attrs={"autocomplete": "off", "placeholder": "GB, US"},
            help_text="Country codes separated by commas, like GB, US. Texts are sent only to phone numbers of "
                      "these countries. Empty: any country.")
        self.fields["voice_office_phone"] = forms.BooleanField(
            label="Allow office phone", required=False,
            help_text="Calls may also go to the office phone (with its extension), not only to mobile phones.")

    def summary_label(self, name: str) -> str:
        prefix = name.split("_", 1)[0]
        title = next(title for p, title in SECTIONS.values() if p == prefix)
        return f"{title}: {self.fields[name].label}"

    @property
    def sections(self) -> list[dict]:
        return [{"title": title, "prefix": p, "note": SECTION_NOTES[config], "state": self[f"{p}_state"],
                 "target": self[f"{p}_target"], "include": self[f"{p}_include_groups"],
                 "exclude": self[f"{p}_exclude_groups"],
                 "settings": [self[f"{p}_{suffix}"] for suffix, _ in SETTINGS.get(config, ())],
                 "number_matching": config == "microsoftAuthenticator"}
                for config, (p, title) in SECTIONS.items()]

    def countries(self) -> list[str]:
        text = self.cleaned_data.get("text_allowed_countries", "")
        return [code for code in COUNTRY_SPLIT.split(text.strip()) if code]

    def policy_data(self) -> dict:
        """The Graph-shaped policy ``update_methods_policy`` takes (after ``is_valid()``)."""
        d = self.cleaned_data
        data = {}
        for config, (p, _) in SECTIONS.items():
            entry = {"state": d[f"{p}_state"],
                     "includeGroups": ["all"] if d[f"{p}_target"] == "all" else list(d[f"{p}_include_groups"]),
                     "excludeGroups": list(d[f"{p}_exclude_groups"])}
            if config == "microsoftAuthenticator":
                entry.update(showAppName=bool(d["authenticator_show_app_name"]),
                             showLocation=bool(d["authenticator_show_location"]))
            if config == "sms":
                entry["allowedCountries"] = self.countries()
            if config == "voice":
                entry["isOfficePhoneAllowed"] = bool(d["voice_office_phone"])
            data[config] = entry
        return data

    def check_each(self, known_groups: frozenset[str]) -> None:
        """Every configuration checked on its own, so each section shows its error at once."""
        for config, entry in self.policy_data().items():
            try:
                compile_methods_policy({config: entry}, known_groups=known_groups)
            except PolicyInvalid as exc:
                self.add_service_error(exc)


def methods_initial(policy: MethodsPolicy) -> dict:
    initial = {}
    for config in CONFIGS:
        c, p = policy.config(config), SECTIONS[config][0]
        initial.update({f"{p}_state": "enabled" if c.enabled else "disabled",
                        f"{p}_target": "all" if c.all_users else "groups",
                        f"{p}_include_groups": sorted(c.include_groups),
                        f"{p}_exclude_groups": sorted(c.exclude_groups)})
    sms, authenticator = policy.config("sms"), policy.config("microsoftAuthenticator")
    initial.update(authenticator_show_app_name=authenticator.show_app_name,
                   authenticator_show_location=authenticator.show_location,
                   text_allowed_countries=", ".join(sorted(sms.allowed_countries)),
                   voice_office_phone=policy.config("voice").office_phone_allowed)
    return initial


# --- MFA settings --------------------------------------------------------------------------------

def _numeric(name: str, label: str, help_text: str):
    low, high, _ = NUMBERS[name]
    return _text(label, max_length=12, attrs=NUMBER, help_text=f"{help_text} From {low} to {high}.")


class MfaSettingsForm(ServiceErrors, forms.Form):
    service_fields = {name: name for name in (*NUMBERS, "mfa_trusted_ips", "campaign_enabled", "campaign_enforce",
                                              "campaign_include_groups", "campaign_exclude_groups")}

    remember_mfa_days = _numeric(
        "remember_mfa_days", "Remember MFA on a browser (days)",
        "After MFA in a browser, people may tick \u201cDon't ask again\u201d and are not asked on that browser for "
        "this many days. 0 turns it off.")
    mfa_trusted_ips = _lines(
        "MFA trusted IPs (one range per line)",
        help_text="Sign-ins from these networks skip per-user MFA (not Security Defaults or Conditional Access "
                  "policies), and count as \u201cAll trusted locations\u201d in Conditional Access. At most 50 ranges.")
    lockout_threshold = _numeric(
        "lockout_threshold", "Smart lockout threshold (wrong passwords)",
        "Wrong passwords for one account before it has to wait, counted apart for familiar and unfamiliar "
        "networks (so a stranger guessing doesn't hold the person up).")
    lockout_seconds = _numeric(
        "lockout_seconds", "Lockout duration (seconds)",
        "How long the account waits after that; each further wrong password doubles the wait.")
    fraud_block_days = _numeric(
        "fraud_block_days", "Block after a fraud report (days)",
        "When someone answers a sign-in request with \u201cNo, it's not me\u201d, their MFA is blocked for this "
        "many days, or until an administrator unblocks them.")
    campaign_enabled = forms.BooleanField(
        label="Registration campaign: ask people to set up the authenticator app", required=False,
        help_text="After a sign-in with MFA, people who verify by phone (text or call) and haven't set up the "
                  "authenticator app's notifications are asked to set it up.")
    campaign_snooze_days = _numeric(
        "campaign_snooze_days", "Days before asking again",
        "People may choose \u201cNot now\u201d; they are asked again after this many days. 0 asks at every MFA.")
    campaign_snoozes_allowed = _numeric(
        "campaign_snoozes_allowed", "Snoozes allowed", "How many times people may choose \u201cNot now\u201d.")
    campaign_enforce = forms.BooleanField(
        label="Require the authenticator app after the last snooze", required=False,
        help_text="Otherwise people can keep choosing \u201cNot now\u201d.")
    campaign_include_groups = TickedField(label="Ask only these groups", help_text="None ticked: everyone.")
    campaign_exclude_groups = TickedField(label="Never ask these groups",
                                          help_text="Members of these groups are not asked, even in a group above.")

    def __init__(self, *args, groups: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("campaign_include_groups", "campaign_exclude_groups"):
            self.fields[name].choices = groups

    def settings_values(self) -> dict:
        """What ``mfa_settings.update`` takes (after ``is_valid()``)."""
        d = self.cleaned_data
        values = {name: _number(d.get(name, "")) for name in NUMBERS}
        values.update(mfa_trusted_ips=self.lines_of("mfa_trusted_ips"),
                      campaign_enabled=bool(d.get("campaign_enabled")),
                      campaign_enforce=bool(d.get("campaign_enforce")),
                      campaign_include_groups=list(d.get("campaign_include_groups") or []),
                      campaign_exclude_groups=list(d.get("campaign_exclude_groups") or []))
        return values

    def check_each(self, values: dict, known_groups: frozenset[str]) -> None:
        """Every setting checked on its own, so every wrong one is shown at once."""
        for name, value in values.items():
            try:
                clean({name: value}, known_groups=known_groups)
            except PolicyInvalid as exc:
                self.add_service_error(exc)


def mfa_settings_initial(row) -> dict:
    initial = {name: str(getattr(row, name)) for name in NUMBERS}
    initial.update(mfa_trusted_ips="\n".join(row.mfa_trusted_ips or []), campaign_enabled=row.campaign_enabled,
                   campaign_enforce=row.campaign_enforce, campaign_include_groups=list(row.campaign_include_groups),
                   campaign_exclude_groups=list(row.campaign_exclude_groups))
    return initial
