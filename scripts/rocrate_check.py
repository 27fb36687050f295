#!/usr/bin/env python3
"""Checks a Workflow Run RO-Crate with the tools the community uses, offline.

    rocrate_check.py CRATE            (a directory or a .zip)

Runs, in order, and prints one JSON object with what each said:
  1. roc-validator (rocrate_validator) against the provenance-run-crate-0.5 profile at the RECOMMENDED level
     (which includes REQUIRED): the issues it found, by severity and check;
  2. runcrate's report (`runcrate report`, its Python entry point): whether it read the crate, and its text;
  3. ro-crate-py (`rocrate.rocrate.ROCrate`): whether it loaded the crate, and the number of entities.
Exits 0 when the validator found no issue and the other two read the crate, 1 otherwise.

Offline: the validator resolves the RO-Crate JSON-LD context (https://w3id.org/ro/crate/1.1/context) over the
network, through an HTTP cache of its own (requests_cache, SQLite) that has an offline mode serving only what the
cache holds. This script makes a fresh cache in a temporary directory, stores in it, under each context URL the
crate names, the context document the `rocrate` package ships (rocrate/data/ro-crate.jsonld, RO-Crate's context
1.3, a superset of 1.1's terms), and runs the validator with offline=True on that cache: nothing is fetched, and a
URL the cache does not hold fails with the validator's own "not available in the HTTP cache" error.
"""

import io
import json
import os
import sys
import tempfile
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import requests
import urllib3
import rocrate
from requests_cache import CachedSession

CONTEXTS = ["https://w3id.org/ro/crate/1.1/context", "https://w3id.org/ro/crate/1.2/context"]
PROFILE = "provenance-run-crate-0.5"


def seed_cache(cache_path: Path) -> None:
    """Stores the shipped context under each RO-Crate context URL, as a 200 JSON-LD response."""
    body = (Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld").read_bytes()
    session = CachedSession(cache_name=str(cache_path), backend="sqlite", expire_after=-1)
    for url in CONTEXTS:
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response._content = body
        response.headers["Content-Type"] = "application/ld+json"
        response.encoding = "utf-8"
        response.request = requests.Request("GET", url).prepare()
        response.reason = "OK"
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(body), headers=dict(response.headers), status=200, preload_content=False, request_url=url
        )
        session.cache.save_response(response)
    session.close()


def validate(crate: Path, cache_path: Path) -> dict:
    from rocrate_validator import services
    from rocrate_validator.models import ValidationSettings

    settings = ValidationSettings(
        rocrate_uri=str(crate),
        profile_identifier=PROFILE,
        requirement_severity="RECOMMENDED",
        offline=True,
        cache_path=cache_path,
    )
    result = services.validate(settings)
    issues = [
        {"severity": i.severity.name, "check": i.check.identifier, "message": i.message, "entity": i.violatingEntity}
        for i in result.get_issues()
    ]
    return {"profile": PROFILE, "level": "RECOMMENDED", "passed": result.passed(), "issues": issues}


def runcrate_report(crate: Path) -> dict:
    from click.testing import CliRunner
    from runcrate.cli import cli

    result = CliRunner().invoke(cli, ["report", str(crate)])
    return {"exit": result.exit_code, "text": result.output, "error": repr(result.exception) if result.exception else None}


def rocrate_load(crate: Path) -> dict:
    from rocrate.rocrate import ROCrate

    try:
        loaded = ROCrate(str(crate))
        return {"loaded": True, "entities": len(loaded.get_entities()), "root": loaded.root_dataset.id}
    except Exception as e:  # the answer is the point: report it
        return {"loaded": False, "error": repr(e)}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    crate = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory(prefix="clowdr-rocrate-") as tmp:
        directory = crate
        if crate.suffix == ".zip":  # runcrate reads directories only
            directory = Path(tmp) / "crate"
            with zipfile.ZipFile(crate) as z:
                z.extractall(directory)
        cache = Path(tmp) / "http-cache"
        seed_cache(cache)
        with redirect_stdout(sys.stderr):
            report = {"validator": validate(crate, cache), "runcrate": runcrate_report(directory), "rocrate": rocrate_load(crate)}
    print(json.dumps(report, indent=1, default=str))
    ok = report["validator"]["passed"] and not report["validator"]["issues"]
    ok = ok and report["runcrate"]["exit"] == 0 and report["rocrate"]["loaded"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
