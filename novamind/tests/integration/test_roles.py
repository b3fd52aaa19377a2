"""The roles: the permission matrix in full, the admin pages each role reaches, minimum necessary.

The matrix (novamind.roles) is checked permission by permission against the groups the
migrations created, and page by page against the admin: for every role and every registered
model, the changelist and the add page answer 200 exactly where the matrix grants it (and the
admin offers the page at all, which a superuser's request shows), and 403 everywhere else.
"""

import datetime as dt
import importlib
import io
import types

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse

from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from clinical_notes.tests.factories import a_diagnosis, addressing, notes_as
from conftest import assign_care
from medications import models as medications_models
from medications import repository as medications_repository
from medications.tests.builders import an_order
from novamind import access, roles, signals
from novamind.domain import RuleViolation
from novamind.models import AccessLogEntry, AnonymousWriteError
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

ROLE_NAMES = [role.name for role in roles.ROLES]
CLINICAL_ROLES = [roles.CLINICIAN, roles.PRESCRIBER, roles.SUPERVISOR]
NON_CLINICAL_ROLES = [roles.FRONT_DESK, roles.PRACTICE_ADMIN, roles.AUDITOR]
CLINICIAN_PROFILE = {"credentials": "PhD", "is_clinician": True}
PRESCRIBER_PROFILE = {"credentials": "MD", "is_clinician": True, "is_prescriber": True, "dea_number": "BL1234563"}
SUPERVISOR_PROFILE = {"credentials": "MD", "is_clinician": True, "is_supervisor": True}
# The headings of the patient page's sections.
CURRENT_LIST, MEDICATION_HISTORY = "(active and on hold)", "(every order, oldest first)"
NOTES_LIST, ALLERGY_LIST = "(psychotherapy notes are kept apart)", "(retire an entry by setting its status"


def model_actions(model) -> list[str]:
    """Return every permission action of `model`: Django's four and the model's own codenames."""
    return [*model._meta.default_permissions, *(code for code, _ in model._meta.permissions)]


MATRIX_CELLS = [
    pytest.param(role, model._meta.label_lower, action, id=f"{role}-{model._meta.label_lower}-{action}")
    for role in ROLE_NAMES
    for model in apps.get_models()
    for action in model_actions(model)
]
ADMIN_PAGES = [
    pytest.param(role, model._meta.label_lower, page, id=f"{role}-{model._meta.label_lower}-{page}")
    for role in ROLE_NAMES
    for model in admin.site._registry
    for page in ("changelist", "add")
]


def granted(role: str, label: str, action: str) -> bool:
    return action in roles.MATRIX[role].grants.get(label, frozenset())


# --- the matrix -------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "label", "action"), MATRIX_CELLS)
def test_each_role_holds_exactly_the_permissions_of_the_matrix(role, label, action):
    app_label = label.split(".")[0]
    held = (
        Group.objects.get(name=role)
        .permissions.filter(
            content_type__app_label=app_label,
            codename=roles.codename(action, label),
        )
        .exists()
    )
    assert held == granted(role, label, action)


def test_no_group_holds_a_permission_outside_the_matrix():
    for role in roles.ROLES:
        held = set(Group.objects.get(name=role.name).permissions.values_list("content_type__app_label", "codename"))
        assert held == role.permissions(), role.name


def test_the_matrix_names_only_permissions_that_exist():
    existing = set(Permission.objects.values_list("content_type__app_label", "codename"))
    for role in roles.ROLES:
        assert role.permissions() <= existing, role.permissions() - existing


def test_nobody_deletes_a_clinical_record():
    clinical_apps = {"patients", "appointments", "clinical_notes", "medications"}
    for role in roles.ROLES:
        for label, actions in role.grants.items():
            assert not (label.split(".")[0] in clinical_apps and roles.DELETE in actions), (role.name, label)


def test_non_clinical_roles_hold_nothing_of_the_clinical_record():
    for name in (roles.PRACTICE_ADMIN, roles.AUDITOR):
        labels = set(roles.MATRIX[name].grants)
        assert not labels & {
            "patients.patient",
            "clinical_notes.clinicalnote",
            "medications.medicationorder",
            "medications.allergy",
            "appointments.appointment",
        }
    front_desk = roles.MATRIX[roles.FRONT_DESK].grants
    assert "clinical_notes.clinicalnote" not in front_desk
    assert front_desk["medications.medicationorder"] == {roles.CURRENT_MEDICATIONS}


def test_the_data_migration_creates_the_groups_from_the_matrix():
    Group.objects.filter(name__in=ROLE_NAMES).delete()
    migration = importlib.import_module("novamind.migrations.0003_roles")
    migration.apply_roles(apps, types.SimpleNamespace(connection=connection))
    for role in roles.ROLES:
        held = set(Group.objects.get(name=role.name).permissions.values_list("content_type__app_label", "codename"))
        assert held == role.permissions()


# --- the admin, page by page -----------------------------------------------------------------

_superuser_status: dict[tuple[str, str], int] = {}


def admin_url(label: str, page: str) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{page}")


def superuser_status(client, label, page) -> int:
    """Return what a superuser gets on the page: 403 means the admin offers it to nobody."""
    if (label, page) not in _superuser_status:
        client.force_login(superuser())
        _superuser_status[label, page] = client.get(admin_url(label, page), follow=True).status_code
        client.logout()
    return _superuser_status[label, page]


@pytest.mark.parametrize(("role", "label", "page"), ADMIN_PAGES)
def test_each_role_reaches_exactly_the_admin_pages_the_matrix_grants(client, role, label, page):
    offered = superuser_status(client, label, page)
    assert offered in (200, 403), f"a superuser gets {offered} on {label} {page}"
    if page == "changelist":
        allowed = granted(role, label, roles.VIEW) or granted(role, label, roles.CHANGE)
    else:
        allowed = granted(role, label, roles.ADD)
    client.force_login(member("someone", role))
    response = client.get(admin_url(label, page), follow=True)  # a series is added on its plan page
    assert response.status_code == (200 if allowed and offered == 200 else 403)


def test_a_refused_page_is_recorded_in_the_access_log(client):
    client.force_login(member("felix", roles.FRONT_DESK))
    assert client.get(admin_url("clinical_notes.clinicalnote", "changelist")).status_code == 403
    entry = AccessLogEntry.objects.get(username="felix", outcome=access.REFUSED)
    assert (entry.action, entry.category, entry.detail) == ("list", "demographics", "no permission for this page")
    assert access.verify().ok


# --- minimum necessary ------------------------------------------------------------------------


@pytest.fixture
def clinic(db):
    """A patient with a signed progress note, a psychotherapy note and a current medication order."""
    root = superuser()
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(
            legal_first_name="Robin",
            legal_last_name="Okafor",
            date_of_birth=dt.date(1990, 5, 17),
        )
    )
    author = member("drpatel", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    assign_care(patient, author, by=root)
    notes = notes_as(author)

    def note(kind):
        staff = notes_models.staff_of(author)
        drafted = notes.add(
            notes_domain.ClinicalNote(
                patient_id=patient.id,
                author=staff,
                kind=kind,
                format=notes_domain.NoteFormat.FREE_TEXT,
                date_of_service=dt.date.today(),
                sections=notes_domain.Sections(body=f"BODYMARKER {kind.value}"),
                # A progress note is signed with the diagnosis it addresses.
                diagnoses=addressing(a_diagnosis(author, patient))
                if kind == notes_domain.NoteKind.PROGRESS_NOTE
                else (),
            )
        )
        return notes.sign(drafted.id)

    prescriber = member("drlee", roles.PRESCRIBER, profile=PRESCRIBER_PROFILE)
    assign_care(patient, prescriber, by=root)
    order = medications_repository.DjangoMedicationOrderRepository(actor=prescriber).add(
        an_order(
            patient_id=patient.id,
            prescriber=medications_models.prescriber_of(prescriber),
            start_date=dt.date.today() - dt.timedelta(days=3),
            drug_name="sertraline",
        ),
    )
    return types.SimpleNamespace(
        patient=patient,
        author=author,
        prescriber=prescriber,
        order=order,
        progress=note(notes_domain.NoteKind.PROGRESS_NOTE),
        private=note(notes_domain.NoteKind.PSYCHOTHERAPY_NOTE),
    )


def patient_page(client, user, patient):
    client.force_login(user)
    response = client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_front_desk_sees_the_current_medication_list_and_nothing_clinical(client, clinic):
    page = patient_page(client, member("felix", roles.FRONT_DESK), clinic.patient)
    assert CURRENT_LIST in page and "sertraline" in page
    assert MEDICATION_HISTORY not in page and NOTES_LIST not in page and ALLERGY_LIST not in page
    assert "BODYMARKER" not in page
    assert reverse("admin:medications_medicationorder_add") not in page  # no prescribe link
    assert reverse("admin:medications_medicationorder_change", args=[clinic.order.id]) not in page


@pytest.mark.parametrize("target", ["note", "order", "order history"])
def test_the_front_desk_guessing_a_clinical_url_is_refused_and_logged(client, clinic, target):
    url = {
        "note": reverse("admin:clinical_notes_clinicalnote_change", args=[clinic.progress.id]),
        "order": reverse("admin:medications_medicationorder_change", args=[clinic.order.id]),
        "order history": reverse("admin:medications_medicationorder_history", args=[clinic.order.id]),
    }[target]
    client.force_login(member("felix", roles.FRONT_DESK))
    response = client.get(url)
    assert response.status_code == 403
    assert "BODYMARKER" not in response.content.decode() and "sertraline" not in response.content.decode()
    entries = AccessLogEntry.objects.filter(username="felix")
    assert [(e.outcome, e.patient_mrn) for e in entries] == [(access.REFUSED, clinic.patient.mrn)]


def test_a_clinician_sees_notes_without_their_text_and_the_medication_history(client, clinic):
    page = patient_page(
        client, clinic.author, clinic.patient
    )  # a clinician sees the patients they treat (patients.policy)
    assert CURRENT_LIST in page and MEDICATION_HISTORY in page and NOTES_LIST in page and ALLERGY_LIST in page
    assert "BODYMARKER" not in page  # lists never decrypt note bodies
    assert reverse("admin:medications_medicationorder_change", args=[clinic.order.id]) in page
    assert reverse("admin:medications_medicationorder_add") not in page  # not a prescriber


def test_only_the_prescriber_role_opens_the_prescribing_page(client, clinic):
    url = reverse("admin:medications_medicationorder_add")
    client.force_login(member("msmith", roles.CLINICIAN, profile=CLINICIAN_PROFILE))
    assert client.get(url).status_code == 403
    client.force_login(clinic.prescriber)
    assert client.get(url).status_code == 200
    page = patient_page(client, clinic.prescriber, clinic.patient)
    assert url in page


@pytest.mark.parametrize("role", CLINICAL_ROLES)
def test_a_psychotherapy_note_is_refused_to_every_other_clinical_role(client, clinic, role):
    url = reverse("admin:clinical_notes_clinicalnote_change", args=[clinic.private.id])
    reader = member("reader", role, profile=SUPERVISOR_PROFILE | {"is_prescriber": True, "dea_number": "BL1234563"})
    assign_care(clinic.patient, reader)  # on the care team: only the psychotherapy rule is left to refuse
    client.force_login(reader)
    response = client.get(url)
    assert response.status_code == 302 and "BODYMARKER" not in response.content.decode()
    refused = AccessLogEntry.objects.get(username="reader", outcome=access.REFUSED)
    assert (refused.category, refused.object_id) == ("psychotherapy_note", str(clinic.private.id))
    client.force_login(clinic.author)
    assert "BODYMARKER psychotherapy_note" in client.get(url).content.decode()


@pytest.mark.parametrize("role", NON_CLINICAL_ROLES)
def test_a_psychotherapy_note_is_forbidden_to_roles_without_notes(client, clinic, role):
    client.force_login(member("reader", role))
    response = client.get(reverse("admin:clinical_notes_clinicalnote_change", args=[clinic.private.id]))
    assert response.status_code == 403
    assert not AccessLogEntry.objects.filter(username="reader", outcome=access.GRANTED).exists()


def test_co_signing_needs_the_supervisor_role_as_well_as_the_profile(clinic):
    notes = notes_as(clinic.author)
    profile_only = member("drwho", roles.CLINICIAN, profile=SUPERVISOR_PROFILE)
    supervisor = member("drkim", roles.SUPERVISOR, profile=SUPERVISOR_PROFILE)
    assign_care(clinic.patient, supervisor)  # a co-signer must be able to open the note
    with pytest.raises(RuleViolation, match="not an active supervisor"):
        notes.request_cosignature(clinic.progress.id, supervisor_id=profile_only.pk)
    notes.request_cosignature(clinic.progress.id, supervisor_id=supervisor.pk)
    cosigned = notes_as(supervisor).cosign(clinic.progress.id)
    assert cosigned.cosigned_by.username == "drkim"


def test_only_holders_of_the_supervisor_role_are_offered_for_co_signing(client, clinic):
    for user in (
        member("drwho", roles.CLINICIAN, profile=SUPERVISOR_PROFILE),
        member("drkim", roles.SUPERVISOR, profile=SUPERVISOR_PROFILE),
    ):
        assign_care(clinic.patient, user)  # both could open the note; only the role differs
    client.force_login(clinic.author)
    page = client.get(reverse("admin:clinical_notes_clinicalnote_request_cosignature", args=[clinic.progress.id]))
    assert "drkim" in page.content.decode() and "drwho" not in page.content.decode()


# --- staff accounts ---------------------------------------------------------------------------


def test_a_practice_admin_gives_roles_and_the_change_is_audited(client):
    manager = member("pat", roles.PRACTICE_ADMIN)
    newcomer = member("newbie")
    client.force_login(manager)
    url = reverse("admin:auth_user_change", args=[newcomer.pk])
    form = {
        "username": "newbie",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [Group.objects.get(name=roles.FRONT_DESK).pk],  # a clinical role is a superuser's (novamind.staff)
        "user_permissions": [Permission.objects.get(codename="delete_patient").pk],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, form, REMOTE_ADDR="10.0.0.7")
    assert response.status_code == 302, response.content.decode()[:2000]
    newcomer.refresh_from_db()
    assert list(newcomer.groups.values_list("name", flat=True)) == [roles.FRONT_DESK]
    assert not newcomer.is_superuser and not newcomer.user_permissions.exists()  # read-only for pat
    entry = AccessLogEntry.objects.get(action=signals.ROLE_CHANGE, object_id=str(newcomer.pk))
    assert (entry.username, entry.category, entry.source_address) == ("pat", "roles", "10.0.0.7")
    assert entry.detail == "newbie: added Front desk"


def test_a_practice_admin_cannot_change_a_superuser_account(client):
    client.force_login(member("pat", roles.PRACTICE_ADMIN))
    root = superuser()
    assert client.get(reverse("admin:auth_user_change", args=[root.pk])).status_code == 200  # view only
    assert client.post(reverse("admin:auth_user_change", args=[root.pk]), {"username": "mine"}).status_code == 403
    assert client.get(reverse("admin:auth_user_password_change", args=[root.pk])).status_code == 403


def test_every_kind_of_role_change_is_recorded_with_its_actor():
    root, user = superuser(), member("felix")
    clinician, auditor = Group.objects.get(name=roles.CLINICIAN), Group.objects.get(name=roles.AUDITOR)
    with signals.changed_by(root):
        user.groups.add(clinician, auditor)
        user.groups.remove(auditor)
        auditor.user_set.add(user)
        user.groups.clear()
    details = list(
        AccessLogEntry.objects.filter(action=signals.ROLE_CHANGE)
        .order_by("sequence")
        .values_list("username", "object_id", "detail")
    )
    assert details == [
        ("root", str(user.pk), "felix: added Auditor, Clinician"),
        ("root", str(user.pk), "felix: removed Auditor"),
        ("root", str(user.pk), "felix: added Auditor"),
        ("root", str(user.pk), "felix: removed Auditor, Clinician"),
    ]
    assert access.verify().ok


def test_a_role_change_without_an_actor_is_refused():
    user = member("felix")
    with pytest.raises(AnonymousWriteError), transaction.atomic():
        user.groups.add(Group.objects.get(name=roles.AUDITOR))
    assert not user.groups.exists()


def test_an_inactive_user_cannot_change_roles():
    root = superuser()
    root.is_active = False
    with pytest.raises(AnonymousWriteError):
        with signals.changed_by(root):
            pass


# --- sync_roles ------------------------------------------------------------------------------


def test_sync_roles_repairs_a_group_changed_by_hand():
    auditor = Group.objects.get(name=roles.AUDITOR)
    auditor.permissions.remove(Permission.objects.get(codename=roles.AUDIT_REPORT))
    auditor.permissions.add(Permission.objects.get(codename="view_clinicalnote"))
    out = io.StringIO()
    with pytest.raises(CommandError, match="differ"):
        call_command("sync_roles", "--check", "--actor", superuser().username, stdout=out)
    assert "Auditor: + novamind.view_audit_report" in out.getvalue()
    assert "Auditor: - clinical_notes.view_clinicalnote" in out.getvalue()
    assert not AccessLogEntry.objects.exists()  # --check changes nothing
    call_command("sync_roles", "--actor", "root", stdout=io.StringIO())
    held = set(auditor.permissions.values_list("content_type__app_label", "codename"))
    assert held == roles.MATRIX[roles.AUDITOR].permissions()
    assert AccessLogEntry.objects.get(action="sync roles").username == "root"
    out = io.StringIO()
    call_command("sync_roles", "--check", "--actor", "root", stdout=out)
    assert "match the matrix" in out.getvalue()


def test_a_sync_whose_access_log_entry_fails_leaves_the_groups_as_they_were(monkeypatch):
    from novamind import access

    class LogWriteFailed(Exception):
        pass

    def broken(**kwargs):
        raise LogWriteFailed

    auditor = Group.objects.get(name=roles.AUDITOR)
    auditor.permissions.add(Permission.objects.get(codename="view_clinicalnote"))
    before = set(auditor.permissions.values_list("codename", flat=True))
    monkeypatch.setattr(access, "record", broken)
    with pytest.raises(LogWriteFailed):
        call_command("sync_roles", "--actor", superuser().username, stdout=io.StringIO())
    assert set(auditor.permissions.values_list("codename", flat=True)) == before
    assert not AccessLogEntry.objects.filter(action="sync roles").exists()


def test_a_matrix_naming_a_missing_permission_is_an_error(monkeypatch):
    broken = roles.Role("Typo", "", {"patients.patient": frozenset({"veiw"})})
    monkeypatch.setattr(roles, "ROLES", (*roles.ROLES, broken))
    with pytest.raises(CommandError, match="'Typo' names permissions that do not exist: patients.veiw"):
        call_command("sync_roles", "--actor", superuser().username, stdout=io.StringIO())
    assert not Group.objects.filter(name="Typo").exists()


def test_sync_roles_needs_an_active_staff_actor():
    get_user_model().objects.create_user(username="outsider", is_staff=False)
    with pytest.raises(CommandError, match="not an active staff user"):
        call_command("sync_roles", "--actor", "outsider", stdout=io.StringIO())


def test_the_demo_staff_get_their_roles_and_no_direct_permissions():
    call_command("seed_demo", "--patients", "0", stdout=io.StringIO())
    User = get_user_model()
    assert set(User.objects.get(username="drlee").groups.values_list("name", flat=True)) == {
        roles.PRESCRIBER,
        roles.SUPERVISOR,
    }
    frontdesk = User.objects.get(username="frontdesk")
    assert list(frontdesk.groups.values_list("name", flat=True)) == [roles.FRONT_DESK]
    assert not frontdesk.user_permissions.exists() and not frontdesk.has_perm("clinical_notes.view_clinicalnote")
    assert AccessLogEntry.objects.filter(action=signals.ROLE_CHANGE, username="admin").count() == 6
    call_command("seed_demo", "--patients", "0", stdout=io.StringIO())  # again: nothing new to record
    assert AccessLogEntry.objects.filter(action=signals.ROLE_CHANGE).count() == 6
