"""What a browser and an authenticator app do for the load test's users: fill forms, compute codes.

Plain standard library, so it is tested without Locust (loadtest/tests) and imported by the
locustfile without Django.
"""

from __future__ import annotations

import datetime as dt
import hmac
import struct
from html.parser import HTMLParser


def weekday_after(first: dt.date, count: int) -> dt.date:
    """Return the `count`-th weekday (Monday to Friday) on or after `first`, counting from 0."""
    day = first
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    weeks, rest = divmod(count, 5)
    day += dt.timedelta(weeks=weeks)
    while rest:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            rest -= 1
    return day


def totp(hex_key: str, at: float, step: int = 30, digits: int = 6) -> str:
    """Return the RFC 6238 code of `hex_key` at time `at` (django-otp's TOTPDevice defaults)."""
    counter = struct.pack(">Q", int(at) // step)
    digest = hmac.new(bytes.fromhex(hex_key), counter, "sha1").digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


class FormParser(HTMLParser):
    """Collect the fields of one form (by id or class, or the first form) as a browser would submit them."""

    def __init__(self, form_id: str | None):
        super().__init__()
        self.form_id, self.inside, self.done = form_id, False, False
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and not self.done and (self.form_id is None or self._names(attributes) & {self.form_id}):
            self.inside = True
        if not self.inside:
            return
        name = attributes.get("name")
        if tag == "input" and name:
            kind = attributes.get("type", "text")
            if kind in ("submit", "button", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            self.fields[name] = attributes.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = attributes.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in attributes:
                self.fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    @staticmethod
    def _names(attributes: dict) -> set[str]:
        return {attributes.get("id") or "", *(attributes.get("class") or "").split()}

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def form_fields(html: str, form_id: str | None = None) -> dict[str, str]:
    parser = FormParser(form_id)
    parser.feed(html)
    return parser.fields
