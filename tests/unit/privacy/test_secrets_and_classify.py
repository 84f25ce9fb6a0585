"""Local SecretStore (env var, 0600 file) and the PII column classifier on real data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import SecretStr

from lakecrew.adapters.local.secrets import LocalSecretStore, env_var_name
from lakecrew.core.errors import NotFound, PermissionDenied, UsageError
from lakecrew.services.privacy.classify import by_name, classify_table
from lakecrew.services.privacy.kinds import Classification, MaskMethod, PiiKind
from lakecrew.services.privacy.masking import Tokenizer
from lakecrew.testing.rawcsv import read_text_csv

FIX = Path(__file__).parents[2] / "fixtures"
VALUE = "s3cr3t-hmac-key-for-unit-tests-only"


def test_env_var_wins_and_value_is_hidden(tmp_path: Path) -> None:
    env = {env_var_name("lassa", "pii_hmac_key"): VALUE}
    assert env_var_name("lassa", "pii_hmac_key") == "LAKECREW_SECRET_LASSA_PII_HMAC_KEY"
    store = LocalSecretStore(tmp_path / "secrets", environ=env)
    secret = store.get("lassa", "pii_hmac_key")
    assert secret.get_secret_value() == VALUE
    assert VALUE not in repr(secret) and VALUE not in str(secret) and VALUE not in f"{secret}"
    assert store.exists("lassa", "pii_hmac_key")
    tok = Tokenizer.from_store(store, "lassa", "pii_hmac_key")
    assert tok.token("x") == Tokenizer(SecretStr(VALUE)).token("x")


def test_file_backed_secret_must_be_private(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path / "secrets", environ={})
    path = store.put("lassa", "pii_hmac_key", SecretStr(VALUE))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert store.get("lassa", "pii_hmac_key").get_secret_value() == VALUE
    os.chmod(path, 0o644)
    with pytest.raises(PermissionDenied) as err:
        store.get("lassa", "pii_hmac_key")
    assert VALUE not in str(err.value)


def test_missing_secret_names_the_places_searched(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path / "secrets", environ={})
    with pytest.raises(NotFound) as err:
        store.get("lassa", "pii_hmac_key")
    assert "LAKECREW_SECRET_LASSA_PII_HMAC_KEY" in str(err.value)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(UsageError):
        store.get("../etc", "passwd")


def test_classifier_on_healthsites() -> None:
    sites = read_text_csv(FIX / "quality" / "healthsites_contacts_sample.csv")
    proposal = classify_table(sites)
    pii = proposal.pii_columns()
    assert pii["contact_number"] == PiiKind.PHONE
    assert pii["changeset_user"] == PiiKind.USERNAME
    assert pii["lat"] == PiiKind.GEO and pii["lon"] == PiiKind.GEO
    for col in ("name", "amenity", "uuid", "osm_id", "changeset_timestamp", "country"):
        assert col not in pii
    by_col = {c.column: c for c in proposal.columns}
    assert by_col["contact_number"].reason == "name+values" and by_col["contact_number"].share > 0.9
    assert by_col["contact_number"].mask == MaskMethod.PARTIAL
    assert proposal.classification == Classification.CONFIDENTIAL
    text = repr(proposal)
    assert "+225" not in text and "anebophil" not in text  # proposals never carry values


def test_classifier_on_dhis2_names() -> None:
    raw = json.loads((FIX / "dhis2" / "dataValueSets_sl_demo_v2.40_1.json").read_text())
    values = pa.Table.from_pylist(raw["dataValues"])
    assert classify_table(values).pii_columns() == {"storedBy": PiiKind.USERNAME}
    for name, kind in [
        ("firstName", PiiKind.PERSON_NAME),
        ("lastName", PiiKind.PERSON_NAME),
        ("date_of_birth", PiiKind.DOB),
        ("NIN", PiiKind.NATIONAL_ID),
        ("timezone", PiiKind.NONE),
        ("statement", PiiKind.NONE),
        ("email_address", PiiKind.EMAIL),
        ("patient_id", PiiKind.PATIENT_ID),
    ]:
        assert by_name(name) == kind, name
    restricted = classify_table(pa.table({"patient_id": ["a"], "dob": ["2001-01-01"]}))
    assert restricted.classification == Classification.RESTRICTED
    emails = classify_table(pa.table({"contact": ["a@b.org", "c@d.com", None]}))
    assert emails.pii_columns() == {"contact": PiiKind.EMAIL}
