"""Demo patients for `seed_demo`: realistic, diverse, made up, and the same on every run."""

import datetime as dt
import unicodedata

from django.utils import timezone

from patients import domain, repository, services

FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mateo",
    "Sofia",
    "Elijah",
    "Amara",
    "Lucas",
    "Mia",
    "Kenji",
    "Aaliyah",
    "Ethan",
    "Zoë",
    "Diego",
    "Priya",
    "Samuel",
    "Chloé",
    "Omar",
    "Grace",
    "Jamal",
    "Hana",
    "Isaac",
    "Leila",
    "Nikolai",
    "Camila",
    "Owen",
    "Fatima",
    "Rowan",
]
LAST_NAMES = [
    "Johnson",
    "García",
    "Nguyen",
    "O'Brien",
    "Okafor",
    "Kowalski",
    "Smith",
    "Haddad",
    "Chen",
    "Martínez",
    "Williams",
    "Schäfer",
    "Patel",
    "Brown",
    "Kim",
    "Rossi",
    "Jones",
    "Dubois",
    "Silva",
    "Murphy",
    "Ivanova",
    "Taylor",
    "Yamamoto",
    "Anderson",
    "Mensah",
    "Lopez",
]
PRONOUNS = ["she/her", "he/him", "they/them", "", "she/they"]
CITIES = [("Boston", "MA", "021"), ("Cambridge", "MA", "021"), ("Somerville", "MA", "021"), ("Quincy", "MA", "021")]
STREETS = ["Maple St", "Beacon St", "Elm Ave", "Harvard St", "Washington St", "Centre St"]
RELATIONS = ["mother", "father", "partner", "spouse", "sister", "brother", "friend"]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")


def demo_patient(rng, today) -> domain.Patient:
    """Return one made-up patient drawn from `rng`."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, region, zip_prefix = rng.choice(CITIES)
    birth = today - dt.timedelta(days=rng.randint(18 * 365, 80 * 365))
    sex = rng.choice(
        [
            domain.SexAssignedAtBirth.FEMALE,
            domain.SexAssignedAtBirth.MALE,
            domain.SexAssignedAtBirth.FEMALE,
            domain.SexAssignedAtBirth.MALE,
            domain.SexAssignedAtBirth.INTERSEX,
        ]
    )
    return domain.Patient(
        legal_first_name=first,
        legal_last_name=last,
        preferred_name=rng.choice(["", "", "", first[:3]]),
        pronouns=rng.choice(PRONOUNS),
        date_of_birth=birth,
        sex_assigned_at_birth=sex,
        gender_identity=rng.choice(["", "", "woman", "man", "non-binary", "transgender woman", "transgender man"]),
        phone=f"(617) 555-{rng.randint(100, 199):04d}",
        email=f"{_ascii(first[0])}.{_ascii(last)}{rng.randint(1, 99)}@example.com",
        address=domain.Address(
            line1=f"{rng.randint(1, 400)} {rng.choice(STREETS)}",
            city=city,
            region=region,
            postal_code=f"{zip_prefix}{rng.randint(10, 99)}",
            country="US",
        ),
        emergency_contact=domain.EmergencyContact(
            name=f"{rng.choice(FIRST_NAMES)} {last}",
            relation=rng.choice(RELATIONS),
            phone=f"(617) 555-{rng.randint(100, 199):04d}",
        ),
    )


def seed(*, actor, rng, stdout, patient_count, **context):
    """Create the demo patients that do not exist yet; return them for the other apps."""
    patients = repository.DjangoPatientRepository(actor=actor)
    today = timezone.localdate()
    created, result = 0, []
    for _ in range(patient_count):
        candidate = demo_patient(rng, today)
        existing = patients.search(
            name=f"{candidate.legal_first_name} {candidate.legal_last_name}",
            date_of_birth=candidate.date_of_birth,
        )
        if existing:
            result.append(existing[0])
            continue
        result.append(services.patient_register(patient=candidate, actor=actor))
        created += 1
    stdout.write(f"Patients: {created} created, {len(result) - created} already there.")
    return {"patients": result}
