from django import forms

from watchword.signin.forms import NewPasswordForm


class ChangePasswordForm(NewPasswordForm):
    current_password = forms.CharField(label="Current password", max_length=256, strip=False,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "current-password",
                                                                         "autofocus": True}),
                                       error_messages={"required": "Enter your current password."})
    field_order = ["current_password", "new_password", "confirm_password"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password"].widget.attrs.pop("autofocus", None)
