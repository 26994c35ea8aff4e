"""The directory-connection form: every setting of a ``DirectoryConnection`` as an administrator
types it.

The form only carries the values (bounded, no NUL) and knows the flavour defaults it shows as
placeholders; what is valid is decided in one place, ``sync.services.clean_connection``, whose
errors the view puts next to the field they name.
"""

from __future__ import annotations

from django import forms
from django.conf import settings

from watchword.directory.phones import country_choices
from watchword.sync.mapping import DEFAULT_FILTERS, DEFAULTS, MAPPING_KEYS
from watchword.sync.models import DirectoryConnection, Flavour

# Typed in a mapping field: read nothing for this name (an empty field means the flavour default).
MAPPING_OFF = "-"
NUMBER = {"inputmode": "numeric", "class": "short", "autocomplete": "off"}
REQUIRED = {"aria-required": "true"}
NUMBER_FIELDS = ("interval_minutes", "poll_seconds", "delete_threshold", "delete_threshold_percent",
                 "timeout_seconds")
FLAVOUR_NOTES = {
    Flavour.ACTIVE_DIRECTORY: "People by userPrincipalName, kept apart by objectGUID; disabled accounts follow "
                              "userAccountControl; changes are found by uSNChanged; deletions by the Deleted "
                              "Objects container and a full check of every id.",
    Flavour.OPENLDAP: "People by uid (plus the sign-in domain), kept apart by entryUUID; a pwdAccountLockedTime "
                      "disables; changes are found by entryCSN (or modifyTimestamp); deletions by a full check of "
                      "every id.",
}


def mapping_field_name(key: str) -> str:
    return f"map_{key}"


def _text(label: str, *, max_length: int, help_text: str = "", widget=None, required_mark: bool = False,
          attrs: dict | None = None) -> forms.CharField:
    """Optional at the form level: a missing value gets the service's own message."""
    widget = widget or forms.TextInput()
    widget.attrs.update({"spellcheck": "false", **(attrs or {}), **(REQUIRED if required_mark else {})})
    return forms.CharField(label=label, max_length=max_length, required=False, help_text=help_text, widget=widget)


class ConnectionForm(forms.Form):
    name = _text("Name", max_length=64, required_mark=True,
                 help_text="Letters, digits, dots, dashes and underscores, like corp-ad. Changes made by the sync "
                           "appear in the audit log as sync:<name>.")
    flavour = forms.ChoiceField(label="Directory", choices=Flavour.choices, widget=forms.RadioSelect,
                                required=False, initial=Flavour.ACTIVE_DIRECTORY,
                                error_messages={"invalid_choice": "Choose the directory: Active Directory or "
                                                                  "OpenLDAP / generic LDAP."})
    url = _text("Server URL", max_length=512, required_mark=True,
                help_text="ldaps://dc1.example.org:636 (encrypted), or ldap://dc1.example.org:389 with StartTLS.",
                attrs={"placeholder": "ldaps://dc1.example.org:636"})
    start_tls = forms.BooleanField(label="Use StartTLS (encrypt an ldap:// connection)", required=False)
    ca_certificate = _text("CA certificate (PEM, optional)", max_length=65536,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text="The certificate authority that signed the directory's certificate. Empty: "
                                     "the system's trusted certificate authorities.",
                           attrs={"placeholder": "-----BEGIN CERTIFICATE-----"})
    bind_dn = _text("Bind DN", max_length=1024, required_mark=True,
                    help_text="A read-only service account, like cn=watchword,dc=example,dc=org "
                              "(Active Directory also takes watchword@example.org).")
    bind_password = forms.CharField(label="Bind password", max_length=1024, required=False, strip=False,
                                    widget=forms.PasswordInput(render_value=False,
                                                               attrs={"autocomplete": "new-password"}))
    base_dns = _text("Base DNs (one per line)", max_length=8192, required_mark=True,
                     widget=forms.Textarea(attrs={"rows": 3}),
                     help_text="Every person and group below these is in scope, like ou=people,dc=example,dc=org.")
    user_filter = _text("User filter", max_length=2048)
    sync_groups = forms.BooleanField(label="Sync groups (and their members)", required=False, initial=True)
    group_filter = _text("Group filter", max_length=2048)
    upn_domain = _text("Sign-in domain", max_length=253,
                       help_text="Added to a sign-in name read without @ (OpenLDAP's uid), like example.org.",
                       attrs={"placeholder": "example.org"})
    phone_country = forms.ChoiceField(label="Country for phone numbers", required=False,
                                      help_text="How numbers stored without a country code (020 7946 0958) are "
                                                "read.",
                                      error_messages={"invalid_choice": "Choose a country from the list."})
    enabled = forms.BooleanField(label="Enabled: sync on the schedule below", required=False, initial=True)
    interval_minutes = _text("Sync every (minutes)", max_length=8, attrs=NUMBER,
                             help_text="A delta import plus a check of every id for people who left.")
    continuous = forms.BooleanField(label="Continuous: also look for changes every few seconds", required=False)
    poll_seconds = _text("Look for changes every (seconds, when continuous)", max_length=8, attrs=NUMBER)
    delete_threshold = _text("Deletion threshold (people)", max_length=10, attrs=NUMBER,
                             help_text="A run that would delete more people than this stops without deleting "
                                       "anyone, until you confirm.")
    delete_threshold_percent = _text("Deletion threshold (percent of the synced people, optional)", max_length=4,
                                     attrs=NUMBER, help_text="When set, the lower of the two limits applies.")
    password_passthrough = forms.BooleanField(
        label="Check passwords with the directory (pass-through)", required=False, initial=True,
        help_text="People sign in with their directory password; Watchword never stores it.")
    timeout_seconds = _text("Timeout (seconds)", max_length=4, attrs=NUMBER,
                            help_text="How long to wait for the directory to answer.")

    def __init__(self, *args, editing: bool = False, **kwargs):
        kwargs.setdefault("initial", {"interval_minutes": "30", "poll_seconds": "10", "delete_threshold": "500",
                                      "timeout_seconds": "10", "flavour": Flavour.ACTIVE_DIRECTORY,
                                      "enabled": True, "sync_groups": True, "password_passthrough": True})
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["phone_country"].choices = [("", f"The installation's default ({settings.DEFAULT_COUNTRY})"),
                                                *country_choices()]
        self.fields["bind_password"].help_text = (
            "Never shown again. Leave empty to keep the current password." if editing else
            "Never shown again, not even after Test connection: type it again before saving.")
        for key, meaning in MAPPING_KEYS.items():
            self.fields[mapping_field_name(key)] = _text(
                meaning[0].upper() + meaning[1:], max_length=128,
                help_text=f"Active Directory: {DEFAULTS['active_directory'][key]} · "
                          f"OpenLDAP: {DEFAULTS['openldap'][key]}")
        self._show_flavour_defaults(self._flavour())

    def _flavour(self) -> str:
        raw = self.data.get("flavour") if self.is_bound else self.initial.get("flavour")
        return raw if raw in Flavour.values else Flavour.ACTIVE_DIRECTORY

    def _show_flavour_defaults(self, flavour: str) -> None:
        users, groups = DEFAULT_FILTERS[flavour]
        self.fields["user_filter"].widget.attrs["placeholder"] = users
        self.fields["user_filter"].help_text = (
            f"Empty: the flavour's default (Active Directory: {DEFAULT_FILTERS['active_directory'][0]}; "
            f"OpenLDAP: {DEFAULT_FILTERS['openldap'][0]}).")
        self.fields["group_filter"].widget.attrs["placeholder"] = groups
        self.fields["group_filter"].help_text = (
            f"Empty: the flavour's default (Active Directory: {DEFAULT_FILTERS['active_directory'][1]}; "
            f"OpenLDAP: {DEFAULT_FILTERS['openldap'][1]}).")
        for key in MAPPING_KEYS:
            self.fields[mapping_field_name(key)].widget.attrs["placeholder"] = DEFAULTS[flavour][key]

    @property
    def mapping_fields(self):
        return [self[mapping_field_name(key)] for key in MAPPING_KEYS]

    @property
    def flavour_notes(self):
        return [(Flavour(value).label, note) for value, note in FLAVOUR_NOTES.items()]

    # --- to and from the service --------------------------------------------------------

    def mapping(self) -> dict[str, str]:
        """The overrides typed: empty is the flavour default, "-" reads nothing."""
        overrides = {}
        for key in MAPPING_KEYS:
            value = self.cleaned_data.get(mapping_field_name(key), "").strip()
            if value == MAPPING_OFF:
                overrides[key] = ""
            elif value:
                overrides[key] = value
        return overrides

    def connection_data(self) -> dict:
        """What ``clean_connection`` validates (after ``is_valid()``)."""
        d = self.cleaned_data
        flavour = d.get("flavour") or ""
        default_groups = DEFAULT_FILTERS.get(flavour, ("", ""))[1]
        data = {name: d.get(name, "") for name in ("name", "flavour", "url", "ca_certificate", "bind_dn",
                                                   "base_dns", "user_filter", "upn_domain", "phone_country",
                                                   *NUMBER_FIELDS)}
        data.update({name: bool(d.get(name)) for name in ("start_tls", "enabled", "continuous",
                                                          "password_passthrough")})
        data["group_filter"] = (d.get("group_filter") or default_groups) if d.get("sync_groups") else ""
        data["mapping"] = self.mapping()
        return data

    def password(self) -> str:
        return self.cleaned_data.get("bind_password") or ""


def initial_for(connection: DirectoryConnection) -> dict:
    """A saved connection as the form shows it: values equal to the flavour's defaults are left
    empty (so they follow the flavour), the password never."""
    users, groups = DEFAULT_FILTERS.get(connection.flavour, ("", ""))
    initial = {name: getattr(connection, name) for name in (
        "name", "flavour", "url", "start_tls", "ca_certificate", "bind_dn", "base_dns", "upn_domain",
        "phone_country", "enabled", "continuous", "password_passthrough")}
    initial.update({name: "" if getattr(connection, name) is None else str(getattr(connection, name))
                    for name in NUMBER_FIELDS})
    initial["user_filter"] = "" if connection.user_filter == users else connection.user_filter
    initial["sync_groups"] = bool(connection.group_filter)
    initial["group_filter"] = "" if connection.group_filter in (groups, "") else connection.group_filter
    for key, value in (connection.mapping or {}).items():
        if key in MAPPING_KEYS:
            initial[mapping_field_name(key)] = value or MAPPING_OFF
    return initial
