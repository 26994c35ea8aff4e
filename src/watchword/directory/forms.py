from django import forms

from watchword.directory.models import MfaState, Role
from watchword.directory.phones import country_choices


def _default_country() -> str:
    from django.conf import settings

    return settings.DEFAULT_COUNTRY


class UserForm(forms.Form):
    upn = forms.CharField(label="Sign-in name", max_length=254, help_text="Like name@example.org",
                          widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}))
    display_name = forms.CharField(label="Display name", max_length=256)
    email = forms.CharField(label="E-mail", max_length=254, required=False,
                            help_text="Where Watchword sends notices, such as 'MFA was turned on'.")
    phone_country = forms.ChoiceField(label="Country for phone numbers", required=False, choices=country_choices,
                                      initial=_default_country,
                                      help_text="Numbers typed without a country code (like 020 7946 0958) are "
                                                "read in this country.")
    office_phone = forms.CharField(label="Office phone", max_length=40, required=False,
                                   help_text="With the country code; an extension as x123.")
    mobile_phone = forms.CharField(label="Mobile phone", max_length=40, required=False)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.USER)


class UserFilterForm(forms.Form):
    q = forms.CharField(label="Search", max_length=100, required=False)
    state = forms.ChoiceField(label="MFA state", required=False,
                              choices=[("", "Any")] + list(MfaState.choices))
    role = forms.ChoiceField(label="Role", required=False, choices=[("", "Any")] + list(Role.choices))
    enabled = forms.ChoiceField(label="Account", required=False,
                                choices=[("", "Any"), ("yes", "Enabled"), ("no", "Disabled")])


class CsvImportForm(forms.Form):
    file = forms.FileField(label="CSV file", error_messages={"required": "Choose a CSV file to import.",
                                                             "empty": "The file is empty."})
