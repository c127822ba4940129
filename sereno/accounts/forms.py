from django import forms
from django.utils.translation import gettext_lazy as _


def _clean_code(value: str) -> str:
    code = "".join(value.split())  # apps show "123 456"
    if code and (len(code) != 6 or not code.isdigit()):
        raise forms.ValidationError(_("Enter the 6-digit code from your authenticator app."))
    return code


class LoginForm(forms.Form):
    """One form for every staff sign-in: password, and the app's code when the account has one.

    Whether the code is required is decided after the password is checked, so that the form
    never tells a stranger which accounts exist or use a second factor.
    """

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}
        ),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        help_text=_("6 digits. Required if your account uses two-factor authentication."),
        required=False,
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
            }
        ),
    )

    def clean_otp_token(self) -> str:
        return _clean_code(self.cleaned_data.get("otp_token", ""))


class TotpConfirmForm(forms.Form):
    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "autofocus": True,
            }
        ),
    )

    def clean_otp_token(self) -> str:
        code = _clean_code(self.cleaned_data.get("otp_token", ""))
        if not code:
            raise forms.ValidationError(_("Enter the 6-digit code from your authenticator app."))
        return code
