"""Create demo staff accounts and demo clinic data, idempotently (development mode only)."""

import importlib
import random
import secrets

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from novamind import roles, staff
from novamind.models import StaffProfile

# username, first name, last name, superuser, role description, staff profile
DEMO_STAFF = [
    ("admin", "Ada", "Admin", True, "practice administrator (superuser)", None),
    ("frontdesk", "Felix", "Desk", False, "front desk", None),
    (
        "drlee",
        "Dana",
        "Lee",
        False,
        "psychiatrist, prescriber, supervisor",
        {
            "credentials": "MD",
            "is_clinician": True,
            "is_prescriber": True,
            "is_supervisor": True,
            "dea_number": "BL1234563",
        },
    ),
    ("drpatel", "Priya", "Patel", False, "psychologist", {"credentials": "PhD", "is_clinician": True}),
    ("msmith", "Morgan", "Smith", False, "therapist (LCSW)", {"credentials": "LCSW", "is_clinician": True}),
    ("office", "Olive", "Office", False, "practice admin (staff accounts)", None),
    ("auditor", "Avery", "Audit", False, "auditor (access log, audit report)", None),
]
# The roles (novamind.roles) of the demo staff who are not superusers.
DEMO_ROLES = {
    "frontdesk": (roles.FRONT_DESK,),
    "drlee": (roles.PRESCRIBER, roles.SUPERVISOR),
    "drpatel": (roles.CLINICIAN,),
    "msmith": (roles.CLINICIAN,),
    "office": (roles.PRACTICE_ADMIN,),
    "auditor": (roles.AUDITOR,),
}
# In this order: each app's demo reads what the ones before it wrote (notes address the problem
# list; plans are built on notes' care teams and the diagnoses).
CLINICAL_APPS = (
    "patients",
    "diagnoses",
    "appointments",
    "clinical_notes",
    "medications",
    "assessments",
    "treatment_plans",
)


class Command(BaseCommand):
    help = (
        "Create demo staff accounts (printing their credentials) and a few hundred realistic "
        "demo patients and their records. Safe to run again: what exists is kept. Refused in "
        "production mode. Every write is attributed to the demo administrator."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=300, help="How many demo patients (default 300).")
        parser.add_argument("--seed", type=int, default=20261128, help="Random seed, for repeatable data.")
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give existing demo accounts new passwords (they are printed). A reset by the demo "
            "administrator, as in the admin: at the next sign-in each account changes it and enrols again.",
        )

    def handle(self, *args, patients, seed, reset_passwords, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo writes made-up patients; it is refused in production mode.")
        if not 0 <= patients <= 100_000:
            raise CommandError("--patients must be between 0 and 100000.")
        staff_users = self._staff(reset_passwords)
        actor = staff_users["admin"]
        rng = random.Random(seed)
        context = {"actor": actor, "staff": staff_users, "rng": rng, "stdout": self.stdout, "patient_count": patients}
        for app_label in CLINICAL_APPS:
            try:
                module = importlib.import_module(f"{apps.get_app_config(app_label).name}.demo")
            except ModuleNotFoundError:
                continue
            with transaction.atomic():
                context.update(module.seed(**context) or {})
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at http://127.0.0.1:8000/admin/"))

    def _staff(self, reset_passwords):
        User = get_user_model()
        staff_users = {}
        self.stdout.write("Demo staff accounts:")
        for username, first, last, superuser, role, _profile in DEMO_STAFF:
            user = User.objects.filter(username=username).first()
            password = None
            if user is None:
                user = User(username=username, first_name=first, last_name=last, email=f"{username}@novamind.invalid")
                password = secrets.token_urlsafe(12)
            elif reset_passwords:
                password = secrets.token_urlsafe(12)
            # Creating an account, and the demo administrator's own flags and password, are the
            # operator's bootstrap at the shell (like createsuperuser): there is no other
            # superuser to act for it. Everything else goes through novamind.staff as "admin".
            reset = password and user.pk is not None and username != "admin"
            user.is_staff = True
            user.is_superuser = superuser
            if password and not reset:
                user.set_password(password)
            user.save()
            if reset:
                staff.staff_password_reset(user=user, actor=staff_users["admin"], password=password)
            if not superuser:
                # Roles only: direct permissions given by earlier versions of this command go.
                user.user_permissions.clear()
                staff.staff_roles_set(user=user, roles=DEMO_ROLES[username], actor=staff_users["admin"])
            shown = password or "(unchanged; --reset-passwords prints a new one)"
            self.stdout.write(f"  {username:<10} {shown:<50} {role}")
            staff_users[username] = user
        admin_user = staff_users["admin"]
        for username, *_, profile in DEMO_STAFF:
            if profile and not StaffProfile.objects.filter(user=staff_users[username]).exists():
                staff.staff_profile_save(profile=StaffProfile(user=staff_users[username], **profile), actor=admin_user)
        return staff_users
