"""The two admin pages of two-factor login: enrol an authenticator app, and prove the factor."""

from django import forms
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from novamind import mfa


class CodeForm(forms.Form):
    """One code, typed by hand."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )


def _next_url(request) -> str:
    """Return where to go after this page: a safe `next`, or the admin index."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _with_next(name: str, request) -> str:
    return f"{reverse(name)}?{urlencode({'next': _next_url(request)})}"


def _render(request, template, title, **context):
    return render(
        request,
        template,
        {
            **admin.site.each_context(request),
            "title": title,
            "next": _next_url(request),
            **context,
        },
    )


def _exempt(view):
    """Mark a view as reachable before the second factor (TwoFactorMiddleware lets it through)."""
    view.two_factor_exempt = True
    return view


@_exempt
@never_cache
@sensitive_post_parameters("code")
def enrol(request):
    """Show a new authenticator's QR code and secret; confirm it with its first code."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if mfa.has_authenticator(user):
        return HttpResponseRedirect(
            _next_url(request) if mfa.is_verified(user) else _with_next("two-factor-verify", request)
        )
    device = mfa.pending_authenticator(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = mfa.confirm_authenticator(request=request, device=device, token=form.cleaned_data["code"])
        if codes is not None:
            # Shown once, in this response: recovery codes are never kept in the session.
            return _render(request, "novamind/two_factor_recovery_codes.html", "Your recovery codes", codes=codes)
        form.add_error(
            "code", "That code is not right. Check that the phone's clock is correct and type the code it shows now."
        )
    return _render(
        request, "novamind/two_factor_enrol.html", "Set up two-factor login", form=form, enrolment=mfa.enrolment(device)
    )


@_exempt
@never_cache
@sensitive_post_parameters("code")
def verify(request):
    """Ask for a code from the authenticator app, or a recovery code."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if mfa.is_verified(user):
        return HttpResponseRedirect(_next_url(request))
    if not mfa.has_authenticator(user):
        return HttpResponseRedirect(_with_next("two-factor-enrol", request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = mfa.verify(request=request, token=form.cleaned_data["code"])
        if outcome.ok:
            return HttpResponseRedirect(_next_url(request))
        form.add_error(
            "code",
            "Too many wrong codes: wait a few seconds, then type the code the app shows now."
            if outcome.throttled
            else "That code is not right, or was already used.",
        )
    return _render(request, "novamind/two_factor_verify.html", "Two-factor login", form=form)
