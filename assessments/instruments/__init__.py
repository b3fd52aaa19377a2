"""The questionnaires NovaMind scores, as data: one module per instrument, free to use without permission.

PHQ-9, GAD-7, PCL-5 and AUDIT-C. Instruments that need permission (the C-SSRS, the DSM-5 measures)
are left out. Plain data, standard library only; `assessments.domain` scores responses with it.
"""

from assessments.instruments import auditc, gad7, pcl5, phq9, scale

INSTRUMENTS: dict[str, scale.Instrument] = {
    instrument.code: instrument for instrument in (phq9.INSTRUMENT, gad7.INSTRUMENT, pcl5.INSTRUMENT, auditc.INSTRUMENT)
}


def get(code: str) -> scale.Instrument | None:
    """Return the instrument whose code is `code` ("phq9"), or None."""
    return INSTRUMENTS.get(code)


def choices() -> list[tuple[str, str]]:
    """Return (code, name) of every instrument, for forms."""
    return [(instrument.code, instrument.name) for instrument in INSTRUMENTS.values()]
