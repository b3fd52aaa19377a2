"""The measures pages of the admin: the entry form item by item, corrections, voiding, reviewing risk answers."""

import re
from html import unescape

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from assessments import domain, models
from assessments.instruments import phq9
from assessments.tests import builders
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db

ADD = reverse("admin:assessments_response_add")
ACTION = "Called the patient the same day: no plan or intent, safety plan reviewed, seen tomorrow."


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def patient_page(clinic) -> str:
    return reverse("admin:patients_patient_change", args=[clinic.patient.id])


def text(response) -> str:
    return unescape(response.content.decode())


def test_the_add_form_offers_the_questionnaires_and_keeps_the_patient_and_where_to_return(clinic):
    page = signed_in(clinic.drpatel).get(ADD, {"patient": clinic.patient.id, "next": patient_page(clinic)})

    assert page.status_code == 200
    links = re.findall(r'<p class="measure-choice".*?</p>', page.content.decode(), re.S)[0]
    for name in ("PHQ-9", "GAD-7", "PCL-5", "AUDIT-C"):
        assert name in links
    assert f"patient={clinic.patient.id}" in links and "instrument=gad7" in links and "next=" in links
    assert "item_1" not in page.content.decode()  # no items before a questionnaire is chosen


def test_the_form_shows_each_item_with_its_exact_wording_and_answers_as_radio_buttons(clinic):
    page = signed_in(clinic.drpatel).get(ADD, {"patient": clinic.patient.id, "instrument": "phq9"})

    body = text(page)
    assert phq9.INSTRUMENT.stem in body
    for item in phq9.INSTRUMENT.items:
        assert f"{item.number}. {item.text}" in body
        radios = re.findall(rf'type="radio" name="item_{item.number}" value="(\d)"', page.content.decode())
        assert radios == ["0", "1", "2", "3"]
    assert "Nearly every day" in body and "Extremely difficult" in body
    form = page.context["adminform"].form
    assert "total" not in form.fields and "band" not in form.fields  # computed when saved, never typed


def test_saving_scores_the_response_raises_the_alert_and_returns_to_the_patient(clinic):
    client = signed_in(clinic.drpatel)
    url = f"{ADD}?patient={clinic.patient.id}&instrument=phq9&next={patient_page(clinic)}"

    saved = client.post(url, builders.form_data(clinic.patient.id, builders.phq9_answers(total=16, item9=1)))

    assert saved.status_code == 302 and saved["Location"] == patient_page(clinic)
    stored = models.Response.objects.get().to_domain()
    assert (stored.total, stored.band, stored.administered_by) == (16, "moderately_severe", "drpatel")
    assert models.SafetyAlert.objects.get().status == domain.AlertStatus.OPEN.value


def test_an_unanswered_item_9_is_an_error_next_to_it_and_nothing_is_saved(clinic):
    answers = builders.phq9_answers(total=8)
    data = builders.form_data(clinic.patient.id, answers, item_9="")

    page = signed_in(clinic.drpatel).post(ADD, data)

    assert page.status_code == 200
    errors = page.context["adminform"].form.errors
    assert "a risk question is never left out" in errors["item_9"][0]
    assert not models.Response.objects.exists()


def test_three_unanswered_items_are_refused_and_two_are_prorated(clinic):
    client = signed_in(clinic.drpatel)
    answers = builders.phq9_answers(total=12)
    refused = client.post(ADD, builders.form_data(clinic.patient.id, answers, item_1="", item_2="", item_3=""))
    assert refused.status_code == 200
    assert {"item_1", "item_2", "item_3"} <= set(refused.context["adminform"].form.errors)
    assert not models.Response.objects.exists()

    saved = client.post(ADD, builders.form_data(clinic.patient.id, answers, item_1="", item_2=""))
    assert saved.status_code == 302
    # 6 points on the 7 answered items: 6 × 9 / 7 = 7.7, scored 8 (NHS Data Dictionary's rule).
    assert models.Response.objects.get().to_domain().total == 8


def test_an_impossible_answer_is_an_error_next_to_its_item(clinic):
    data = builders.form_data(clinic.patient.id, builders.phq9_answers(), item_4="7")
    page = signed_in(clinic.drpatel).post(ADD, data)
    assert page.status_code == 200 and "item_4" in page.context["adminform"].form.errors


def test_a_patient_outside_care_is_an_error_next_to_the_patient(clinic):
    page = signed_in(clinic.drlee).post(ADD, builders.form_data(clinic.patient.id, builders.phq9_answers()))
    assert page.status_code == 200 and "patient" in page.context["adminform"].form.errors
    assert not models.Response.objects.exists()


# --- the front desk enters a paper form and sees nothing of it ---------------------------------------


def test_the_front_desk_enters_a_paper_form_and_never_sees_its_answers_or_score(clinic):
    client = signed_in(clinic.desk)
    url = f"{ADD}?patient={clinic.patient.id}&instrument=phq9&next={patient_page(clinic)}"
    form = client.get(url)
    assert form.status_code == 200 and "_continue" not in form.content.decode()  # no "Save and continue"

    saved = client.post(url, builders.form_data(clinic.patient.id, builders.phq9_answers(total=22, item9=2)))

    assert saved.status_code == 302 and saved["Location"] == patient_page(clinic)
    response = models.Response.objects.get()
    assert response.administered_by == clinic.desk
    for page in ("changelist", "change", "history"):
        args = [] if page == "changelist" else [response.pk]
        assert client.get(reverse(f"admin:assessments_response_{page}", args=args)).status_code == 403, page
    alert = models.SafetyAlert.objects.get()
    assert client.get(reverse("admin:assessments_safetyalert_change", args=[alert.pk])).status_code == 403
    patient = text(client.get(patient_page(clinic)))
    assert "PHQ-9" not in patient and "Severe" not in patient and "Risk answer" not in patient
    messages = " ".join(str(message) for message in saved.wsgi_request._messages)
    # The score as a word (the message names the record by its id, whose hex may hold "22").
    assert not re.search(r"\b22\b", messages) and "evere" not in messages


# --- corrections and voiding --------------------------------------------------------------------------


def test_the_change_page_shows_the_answers_checked_and_the_score_read_only(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, total=13, item9=1)

    page = signed_in(clinic.drpatel).get(reverse("admin:assessments_response_change", args=[stored.id]))

    body = page.content.decode()
    assert re.search(r'name="item_9" value="1"[^>]*checked', body)
    assert "13 — Moderate" in unescape(body)
    assert reverse("admin:assessments_safetyalert_change", args=[models.SafetyAlert.objects.get().pk]) in body
    assert 'name="total"' not in body and 'name="instrument"' not in body  # read-only


def change_data(page) -> dict:
    form = page.context["adminform"].form
    data = {name: "" if value is None else str(value) for name, value in form.initial.items() if name in form.fields}
    data["appointment"] = data.get("appointment") or ""
    return data


def test_a_correction_needs_a_reason_and_clears_an_unreviewed_alert(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, total=10, item9=1)
    client = signed_in(clinic.drpatel)
    url = reverse("admin:assessments_response_change", args=[stored.id])
    data = change_data(client.get(url))

    refused = client.post(url, {**data, "item_9": "0"})
    assert refused.status_code == 200
    assert "reason_for_correction" in refused.context["adminform"].form.errors
    assert models.Response.objects.get().version == 1

    saved = client.post(url, {**data, "item_9": "0", "reason_for_correction": "Item 9 was ticked by mistake."})
    assert saved.status_code == 302
    assert models.Response.objects.get().to_domain().total == 9
    assert models.SafetyAlert.objects.get().status == domain.AlertStatus.CLEARED.value
    change = LogEntry.objects.order_by("-pk").first().change_message
    assert '"answers"' in change and "Thoughts" not in change and "better off dead" not in change


def test_posting_the_change_form_unchanged_writes_nothing(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id, total=10)
    client = signed_in(clinic.drpatel)
    url = reverse("admin:assessments_response_change", args=[stored.id])

    saved = client.post(url, change_data(client.get(url)))

    assert saved.status_code == 302
    assert models.Response.objects.get().version == 1 and models.Response.history.count() == 1


def test_void_asks_a_reason_and_keeps_the_response_read_only(clinic):
    stored = builders.record(clinic.drpatel, clinic.patient.id)
    client = signed_in(clinic.drpatel)
    url = reverse("admin:assessments_response_void", args=[stored.id])

    assert client.post(url, {"void_reason": "", "version": "1"}).status_code == 200
    done = client.post(url, {"void_reason": "Entered twice.", "version": "1"})

    assert done.status_code == 302
    row = models.Response.objects.get()
    assert row.status == domain.ResponseStatus.VOIDED.value and row.void_reason == "Entered twice."
    page = client.get(reverse("admin:assessments_response_change", args=[stored.id]))
    assert page.status_code == 200 and 'id="void-response"' not in page.content.decode()


# --- reviewing a risk answer ---------------------------------------------------------------------------


def review_url(alert) -> str:
    return reverse("admin:assessments_safetyalert_review", args=[alert.pk])


def test_the_care_team_reviews_from_the_alert_page(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, item9=2)
    alert = models.SafetyAlert.objects.get()
    client = signed_in(clinic.drpatel)

    page = client.get(reverse("admin:assessments_safetyalert_change", args=[alert.pk]))
    assert review_url(alert) in page.content.decode()
    form = client.get(review_url(alert))
    assert "More than half the days" in text(form)
    assert AccessLogEntry.objects.filter(action="view (review form)", patient_id=clinic.patient.id).exists()

    done = client.post(review_url(alert), {"action_taken": ACTION, "version": str(alert.version)})

    assert done.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.reviewed_by, alert.action_taken) == ("reviewed", clinic.drpatel, ACTION)


def test_a_clinician_outside_care_gets_404_and_a_superuser_outside_the_team_is_told_why(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, item9=2)
    alert = models.SafetyAlert.objects.get()

    assert signed_in(clinic.drlee).get(review_url(alert)).status_code == 404
    page = signed_in(clinic.root).post(review_url(alert), {"action_taken": ACTION, "version": str(alert.version)})
    assert page.status_code == 200 and "not on this patient's care team" in text(page)
    assert models.SafetyAlert.objects.get().status == "open"


def test_the_lists_hold_only_the_users_patients(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, item9=2)

    for url in (
        reverse("admin:assessments_response_changelist"),
        reverse("admin:assessments_safetyalert_changelist"),
    ):
        mine = signed_in(clinic.drpatel).get(url)
        theirs = signed_in(clinic.drlee).get(url)
        assert "Robin Okafor" in text(mine) and "Robin Okafor" not in text(theirs), url
        assert clinic.patient.mrn not in text(theirs)
