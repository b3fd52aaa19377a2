"""Keep PHI out of error reports and logs.

Django's error page (DEBUG) and the reports it e-mails to ADMINS show a request's GET and POST
values, its cookies and headers, and every local variable of every frame. Here a patient's name
is in the POST of the form that failed and in the repr of the domain object a view was holding,
so the reporter below shows names only: which parameters, which variables and of what type,
never their values. The filter is active in development too, where DEBUG shows the page.
"""

import logging

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

HIDDEN = "******** (hidden: may hold PHI)"

# Request headers a report keeps; every other META entry (the query string, the referer that
# carries a search, cookies, and under runserver the whole process environment) is hidden.
SHOWN_META = frozenset(
    {
        "REQUEST_METHOD",
        "PATH_INFO",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "HTTP_HOST",
        "HTTP_USER_AGENT",
        "HTTP_ACCEPT",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTP_X_FORWARDED_PROTO",
        "wsgi.url_scheme",
    }
)


class PHISafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Hide every request value and every local variable's value, in every mode."""

    def is_active(self, request):
        return True

    def get_post_parameters(self, request):
        """Return the POST parameter names, each with its value hidden."""
        if request is None:
            return {}
        return {name: HIDDEN for name in request.POST}

    def get_cleansed_multivaluedict(self, request, multivaluedict):
        """Return the keys of a QueryDict held in a local variable, values hidden."""
        return {name: HIDDEN for name in multivaluedict}

    def get_traceback_frame_variables(self, request, tb_frame):
        """Return each local variable's name and type, never its value."""
        return [(name, f"<{type(value).__qualname__}> {HIDDEN}") for name, value in tb_frame.f_locals.items()]

    def get_safe_request_meta(self, request):
        if not hasattr(request, "META"):
            return {}
        return {
            name: (self.cleanse_setting(name, value) if name in SHOWN_META else HIDDEN)
            for name, value in request.META.items()
        }

    def get_safe_cookies(self, request):
        return {name: HIDDEN for name in getattr(request, "COOKIES", {})}


class PHISafeExceptionReporter(ExceptionReporter):
    """The technical 500 page and e-mail, without GET values, uploaded files or query string."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        request = self.request
        if request is not None:
            data["request_GET_items"] = [(name, HIDDEN) for name in request.GET]
            data["request_FILES_items"] = [(name, HIDDEN) for name in request.FILES]
            data["request_insecure_uri"] = f"{request.scheme}://{request._get_raw_host()}{request.path}" + (
                "?" + HIDDEN if request.META.get("QUERY_STRING") else ""
            )
        return data


class DropSQLRecords(logging.Filter):
    """Drop the database backend's statement records: their parameters are patient data."""

    def filter(self, record):
        return not (hasattr(record, "sql") or hasattr(record, "params"))


class RedactQueryStrings(logging.Filter):
    """Cut the query string from runserver's request lines ("GET /…?q=<a name> HTTP/1.1")."""

    def filter(self, record):
        if record.args and isinstance(record.args, tuple) and isinstance(record.args[0], str):
            request_line = record.args[0]
            method, _, rest = request_line.partition(" ")
            target, space, protocol = rest.rpartition(" ") if " " in rest else (rest, "", "")
            if "?" in target:
                target = target.split("?", 1)[0] + "?…"
                record.args = (f"{method} {target}{space}{protocol}", *record.args[1:])
        return True
