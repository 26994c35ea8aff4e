from django import forms


class NameForm(forms.Form):
    name = forms.CharField(label="Email or sign-in name", max_length=254,
                           widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True,
                                                         "inputmode": "email", "spellcheck": "false"}),
                           error_messages={"required": "Enter a valid email address or sign-in name.",
                                           "max_length": "A sign-in name is at most 254 characters."})


class PasswordForm(forms.Form):
    password = forms.CharField(label="Password", max_length=256, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password",
                                                                 "autofocus": True}),
                               error_messages={"required": "Please enter your password.",
                                               "max_length": "A password is at most 256 characters."})


class NewPasswordForm(forms.Form):
    new_password = forms.CharField(label="New password", max_length=256, strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password",
                                                                     "autofocus": True}),
                                   error_messages={"required": "Enter a new password."})
    confirm_password = forms.CharField(label="Confirm password", max_length=256, strip=False,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                       error_messages={"required": "Enter the new password again."})

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("confirm_password") and \
                data["new_password"] != data["confirm_password"]:
            self.add_error("confirm_password", "The passwords don't match.")
        return data


class CodeForm(forms.Form):
    code = forms.CharField(label="Code", max_length=12,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "autofocus": True, "pattern": "[0-9 ]*"}),
                           error_messages={"required": "Enter the 6-digit code from your authenticator app.",
                                           "max_length": "Enter the 6-digit code from your authenticator app."})
