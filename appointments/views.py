"""The booking pages of the appointment admin: the free-slot finder, the week calendar, and the list's day.

The finder and the calendar are pages of `AppointmentAdmin` (its `get_urls` names them) that
read through `appointments.schedule`, which asks the access policy; nothing here decides who
sees what. The appointment list opens on today: `opening_query` is the address it then stands
for, and `day_links` its way to the day before and after, and to every day.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import JsonResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from appointments import domain, forms, policy, repository, schedule
from novamind.domain import AccessDenied, RuleViolation

FREE_SLOTS_URL = "admin:appointments_appointment_free_slots"
WEEK_URL = "admin:appointments_appointment_week"
DAY_URL = "admin:appointments_appointment_day"
PICKER_PAGE = 20  # Select2 asks for the next page as staff scroll


def local_minute(moment: dt.datetime) -> str:
    """Return "2026-03-03T10:00", the local time as the add form's links carry it."""
    return moment.astimezone(policy.zone()).strftime("%Y-%m-%dT%H:%M")


def free_slots_link(clinician_id=None) -> str:
    """Return the finder's address, for a clinician when given."""
    url = reverse(FREE_SLOTS_URL)
    return f"{url}?clinician={clinician_id}" if clinician_id is not None else url


def week_link(clinician_id, day: dt.date) -> str:
    """Return the address of a clinician's week holding `day`."""
    return f"{reverse(WEEK_URL)}?clinician={clinician_id}&date={schedule.week_of(day).isoformat()}"


def _with_default_clinician(data: QueryDict, clinicians, user) -> None:
    """Name the user themself (when bookable) or the first clinician, if the address names none."""
    if data.get("clinician"):
        return
    first = clinicians.filter(pk=user.pk).first() or clinicians.order_by("last_name", "username").first()
    if first is not None:
        data["clinician"] = str(first.pk)


def free_slots(model_admin, request):
    """Show the free slots of a clinician (and room, and patient) over some weeks; each books in one click."""
    if not model_admin.has_add_permission(request):
        model_admin.log_refusal(request, schedule.FREE_SLOTS_ACTION)
        raise PermissionDenied
    data = request.GET.copy()
    for key, value in (
        ("kind", domain.Kind.THERAPY.value),
        ("modality", domain.Modality.IN_PERSON.value),
        ("from", policy.today().isoformat()),
        ("weeks", "2"),
    ):
        if not data.get(key):
            data[key] = value
    _with_default_clinician(data, schedule.slot_clinicians(request.user), request.user)
    form = forms.FreeSlotForm(data, admin_site=model_admin.admin_site, actor=request.user)
    result, days, links = None, [], {}
    if form.is_valid():
        chosen = form.cleaned_data
        try:
            result = schedule.free_slots(
                clinician=chosen["clinician"],
                kind=chosen["kind"],
                reader=request.user,
                first_day=chosen["from"],
                weeks=chosen["weeks"],
                room_id=chosen["room"].pk if chosen["room"] else None,
                patient=chosen["patient"],
                request=request,
            )
        except AccessDenied:  # the form offers only what the policy allows; a race with a role change
            form.add_error("clinician", "You may look for your own free time only.")
        except RuleViolation as violation:
            forms.add_rule_errors(form, violation)
        else:
            days = _slot_links(result, chosen)
            links = _period_links(chosen)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Find a free slot",
        "form": form,
        "result": result,
        "result_links": days,
        **links,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/appointments/appointment/free_slots.html", context)


def _slot_links(result: schedule.FreeSlots, chosen: dict) -> list[tuple[dt.date, list[dict]]]:
    """Return, per working day, each free slot with the address of the add form filled in for it."""
    add = reverse("admin:appointments_appointment_add")
    fixed = {"clinician": chosen["clinician"].pk, "kind": chosen["kind"].value, "modality": chosen["modality"].value}
    if chosen["room"] is not None:
        fixed["room"] = chosen["room"].pk
    if chosen["patient"] is not None:
        fixed["patient"] = chosen["patient"].pk
    return [
        (
            day,
            [
                {
                    "start": slot.start,
                    "end": slot.end,
                    "url": f"{add}?{urlencode({**fixed, 'start': local_minute(slot.start), 'end': local_minute(slot.end)})}",
                }
                for slot in slots
            ],
        )
        for day, slots in result.days
    ]


def _period_links(chosen: dict) -> dict:
    """Return the addresses of the weeks before (not before today) and after the ones shown."""
    span = dt.timedelta(weeks=chosen["weeks"])
    params = {
        "clinician": chosen["clinician"].pk,
        "kind": chosen["kind"].value,
        "modality": chosen["modality"].value,
        "weeks": chosen["weeks"],
    }
    for name in ("room", "patient"):
        if chosen[name] is not None:
            params[name] = chosen[name].pk
    base = reverse(FREE_SLOTS_URL)
    today = policy.today()
    links = {"later_url": f"{base}?{urlencode({**params, 'from': (chosen['from'] + span).isoformat()})}"}
    if chosen["from"] > today:
        earlier = max(chosen["from"] - span, today)
        links["earlier_url"] = f"{base}?{urlencode({**params, 'from': earlier.isoformat()})}"
    return links


def week(model_admin, request):
    """Draw a clinician's week, Monday to Sunday; each appointment the user may open is a link."""
    if not model_admin.has_view_permission(request):
        model_admin.log_refusal(request, schedule.WEEK_ACTION)
        raise PermissionDenied
    data = request.GET.copy()
    _with_default_clinician(data, repository.bookable_clinicians(), request.user)
    if not data.get("date"):
        data["date"] = policy.today().isoformat()
    form = forms.WeekForm(data, admin_site=model_admin.admin_site)
    calendar, links = None, {}
    if form.is_valid():
        clinician = form.cleaned_data["clinician"]
        calendar = schedule.week_calendar(
            clinician=clinician, day=form.cleaned_data["date"], reader=request.user, request=request
        )
        monday = calendar.monday
        links = {
            "previous_url": week_link(clinician.pk, monday - dt.timedelta(days=7)),
            "next_url": week_link(clinician.pk, monday + dt.timedelta(days=7)),
            "this_week_url": week_link(clinician.pk, policy.today()),
            "columns": [
                {"day": day, "day_url": f"{reverse(DAY_URL)}?clinician={clinician.pk}&date={day.day.isoformat()}"}
                for day in calendar.days
            ],
            "free_slots_url": (
                free_slots_link(clinician.pk)
                if model_admin.has_add_permission(request)
                and schedule.slot_clinicians(request.user).filter(pk=clinician.pk).exists()
                else None
            ),
        }
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Week calendar",
        "form": form,
        "calendar": calendar,
        "today": policy.today(),
        **links,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/appointments/appointment/week.html", context)


# --- the list's day ------------------------------------------------------------------------------

SINCE, UNTIL, ANY = "start__gte", "start__lt", "start__any"


def span(first: dt.date, days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    """Return the start of `first` and of the day `days` later, in the clinic's time zone."""
    return repository.day_bounds(first)[0], repository.day_bounds(first + dt.timedelta(days=days - 1))[1]


def day_query(day: dt.date) -> dict[str, str]:
    """Return the list's date filter for one local day, as its "Today" choice writes it."""
    start, end = span(day)
    return {SINCE: str(start), UNTIL: str(end)}


def opening_query() -> QueryDict:
    """Return the filter an appointment list opened with no address stands for: today's appointments."""
    query = QueryDict(mutable=True)
    query.update(day_query(policy.today()))
    return query


def shown_day(query: QueryDict) -> dt.date | None:
    """Return the one local day the list's date filter shows, or None (any date, a range, a search)."""
    try:
        since, until = parse_datetime(query.get(SINCE) or ""), parse_datetime(query.get(UNTIL) or "")
    except ValueError:  # well formed but no such time (month 13): the list itself reports it
        return None
    if since is None or until is None or since.tzinfo is None:
        return None
    day = since.astimezone(policy.zone()).date()
    return day if day_query(day) == {SINCE: str(since), UNTIL: str(until)} else None


def day_links(query: QueryDict, path: str) -> dict:
    """Return the day the list shows and the addresses of the day before, the day after and every day."""
    day = shown_day(query)

    def moved(changes: dict) -> str:
        params = query.copy()
        for key in (SINCE, UNTIL, ANY, "p"):  # a page number means nothing on another day
            params.pop(key, None)
        params.update(changes)
        return f"{path}?{params.urlencode()}"

    if day is None:
        return {"shown_day": None}
    return {
        "shown_day": day,
        "is_today": day == policy.today(),
        "previous_day_url": moved(day_query(day - dt.timedelta(days=1))),
        "next_day_url": moved(day_query(day + dt.timedelta(days=1))),
        "today_url": moved(day_query(policy.today())),
        "all_days_url": moved({ANY: "1"}),
    }


def clinician_search(model_admin, request):
    """Answer a clinician picker: the bookable clinicians whose name, username or credentials hold every word typed.

    Select2's format: a page of {id, text} and whether more follow. Staff names are not PHI: nothing
    is logged. `?for=slots` asks for the finder's clinicians (`schedule.slot_clinicians`).
    """
    if not model_admin.has_view_permission(request):
        model_admin.log_refusal(request, "clinician search")
        raise PermissionDenied
    if request.GET.get("for") == forms.FOR_SLOTS:
        clinicians = schedule.slot_clinicians(request.user)
    else:
        clinicians = repository.bookable_clinicians()
    for word in request.GET.get("term", "").split()[:5]:
        clinicians = clinicians.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
            | Q(staff_profile__credentials__icontains=word)
        )
    ordered = clinicians.select_related("staff_profile").order_by("last_name", "first_name", "username")
    page = Paginator(ordered, PICKER_PAGE).get_page(request.GET.get("page"))
    return JsonResponse(
        {
            "results": [{"id": str(user.pk), "text": schedule.clinician_label(user)} for user in page],
            "pagination": {"more": page.has_next()},
        }
    )
