"""The authentication-methods policy: which method types people may register and use, for all
or for chosen groups (exclude wins), with each type's settings. Pure: the stored JSON is
checked into a ``MethodsPolicy`` and asked per person.

Configurations carry Graph's names (``authenticationMethodConfigurations``):

- ``microsoftAuthenticator`` → push (number matching is always on; ``showAppName``,
  ``showLocation`` choose the additional context shown on the device),
- ``softwareOath`` → authenticator codes,
- ``sms`` → texts to the mobile phone (``allowedCountries``: ISO 3166 regions; empty = any),
- ``voice`` → calls (``isOfficePhoneAllowed`` for the office phone).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from watchword.policy.errors import PolicyInvalid

CONFIGS = ("microsoftAuthenticator", "softwareOath", "sms", "voice")
LABELS = {"microsoftAuthenticator": "Authenticator app (notifications)", "softwareOath": "Authenticator codes",
          "sms": "Text message", "voice": "Voice call"}
MAX_GROUPS = 500


@dataclass(frozen=True)
class MethodConfig:
    name: str
    enabled: bool = True
    all_users: bool = True
    include_groups: frozenset[str] = frozenset()
    exclude_groups: frozenset[str] = frozenset()
    show_app_name: bool = True
    show_location: bool = True
    allowed_countries: frozenset[str] = frozenset()
    office_phone_allowed: bool = True

    def applies_to(self, groups: frozenset[str]) -> bool:
        if not self.enabled or self.exclude_groups & groups:
            return False
        return self.all_users or bool(self.include_groups & groups)


@dataclass(frozen=True)
class MethodsPolicy:
    configs: dict

    def config(self, name: str) -> MethodConfig:
        return self.configs[name]

    def enabled_for(self, groups: frozenset[str]) -> frozenset[str]:
        return frozenset(name for name, c in self.configs.items() if c.applies_to(groups))

    def channels(self, method_type: str, groups: frozenset[str], phone: str = "") -> tuple[str, ...]:
        """The ways a registered method of ``method_type`` may be used by this person (``()``:
        not at all). ``phone`` (E.164) decides whether a text may go to its country."""
        enabled = self.enabled_for(groups)
        if method_type == "push":
            return ("push", "code") if "microsoftAuthenticator" in enabled else (
                ("code",) if "softwareOath" in enabled else ())
        if method_type == "totp":
            return ("code",) if "softwareOath" in enabled else ()
        if method_type == "phone":
            out = []
            if "sms" in enabled and self.text_allowed_to(phone):
                out.append("text")
            if "voice" in enabled:
                out.append("call")
            return tuple(out)
        if method_type == "alternate_phone":
            return ("call",) if "voice" in enabled else ()
        if method_type == "office_phone":
            return ("call",) if "voice" in enabled and self.configs["voice"].office_phone_allowed else ()
        return ()

    def text_allowed_to(self, phone: str) -> bool:
        countries = self.configs["sms"].allowed_countries
        if not countries or not phone:
            return not countries
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(phone.split("x", 1)[0], None))
        except phonenumbers.NumberParseException:
            return False
        return region in countries


def compile_methods_policy(data: object, *, known_groups: frozenset[str] | None = None) -> MethodsPolicy:
    """Stored (or submitted) JSON → ``MethodsPolicy``; missing configurations are on for everyone."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyInvalid("The methods policy is an object of method configurations.")
    for key in data:
        if key not in CONFIGS:
            raise PolicyInvalid(f"{str(key)[:40]!r} is not a method configuration (known: {', '.join(CONFIGS)}).",
                                field=str(key)[:40])
    configs = {}
    for name in CONFIGS:
        raw = data.get(name) or {}
        if not isinstance(raw, dict):
            raise PolicyInvalid("Expected an object.", field=name)
        allowed = {"state", "includeGroups", "excludeGroups", "showAppName", "showLocation", "allowedCountries",
                   "isOfficePhoneAllowed"}
        for key in raw:
            if key not in allowed:
                raise PolicyInvalid(f"{str(key)[:40]!r} is not a setting of {name}.", field=f"{name}.{str(key)[:40]}")
        state = raw.get("state", "enabled")
        if state not in ("enabled", "disabled"):
            raise PolicyInvalid("state must be enabled or disabled.", field=f"{name}.state")
        include = _groups(raw.get("includeGroups", ["all"]), f"{name}.includeGroups", known_groups, allow_all=True)
        exclude = _groups(raw.get("excludeGroups", []), f"{name}.excludeGroups", known_groups, allow_all=False)
        if state == "enabled" and not include:
            raise PolicyInvalid("Choose who may use it: all users, or groups.", field=f"{name}.includeGroups")
        flags = {}
        for key, default in (("showAppName", True), ("showLocation", True), ("isOfficePhoneAllowed", True)):
            flags[key] = raw.get(key, default)
            if not isinstance(flags[key], bool):
                raise PolicyInvalid(f"{key} must be true or false.", field=f"{name}.{key}")
        countries = raw.get("allowedCountries", [])
        if not isinstance(countries, list) or len(countries) > 250:
            raise PolicyInvalid("allowedCountries is a list of country codes such as GB or US.",
                                field=f"{name}.allowedCountries")
        supported = phonenumbers.SUPPORTED_REGIONS
        for index, code in enumerate(countries):
            if not isinstance(code, str) or code.upper() not in supported:
                raise PolicyInvalid(f"{str(code)[:10]!r} is not a country code (like GB, US, DE).",
                                    field=f"{name}.allowedCountries[{index}]")
        configs[name] = MethodConfig(
            name=name, enabled=state == "enabled", all_users="all" in include,
            include_groups=frozenset(include) - {"all"}, exclude_groups=frozenset(exclude),
            show_app_name=flags["showAppName"], show_location=flags["showLocation"],
            allowed_countries=frozenset(c.upper() for c in countries),
            office_phone_allowed=flags["isOfficePhoneAllowed"])
    return MethodsPolicy(configs)


def _groups(values, field: str, known: frozenset[str] | None, *, allow_all: bool) -> list[str]:
    if not isinstance(values, list) or len(values) > MAX_GROUPS:
        raise PolicyInvalid(f"Expected a list of at most {MAX_GROUPS} group ids.", field=field)
    out = []
    for index, value in enumerate(values):
        value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(value, str) or not value:
            raise PolicyInvalid("Each group is named by its id.", field=f"{field}[{index}]")
        if value == "all":
            if not allow_all:
                raise PolicyInvalid("'all' cannot be excluded; turn the method off instead.", field=f"{field}[{index}]")
        elif known is not None and value not in known:
            raise PolicyInvalid(f"There is no group {value[:40]!r}.", field=f"{field}[{index}]")
        out.append(value)
    if "all" in out and len(out) > 1:
        raise PolicyInvalid("'all' stands alone.", field=field)
    return out


def export_methods_policy(policy: MethodsPolicy) -> dict:
    out = {}
    for name, c in policy.configs.items():
        entry = {"state": "enabled" if c.enabled else "disabled",
                 "includeGroups": ["all"] if c.all_users else sorted(c.include_groups),
                 "excludeGroups": sorted(c.exclude_groups)}
        if name == "microsoftAuthenticator":
            entry.update(showAppName=c.show_app_name, showLocation=c.show_location)
        if name == "sms":
            entry["allowedCountries"] = sorted(c.allowed_countries)
        if name == "voice":
            entry["isOfficePhoneAllowed"] = c.office_phone_allowed
        out[name] = entry
    return out
