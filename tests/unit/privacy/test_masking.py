"""Tokenization, partial masks, generalisation — on real healthsites rows — and key secrecy."""

from __future__ import annotations

import logging
import pickle
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from lakecrew.core.errors import ConfigError, DataError
from lakecrew.services.privacy.kinds import MaskMethod, PiiKind
from lakecrew.services.privacy.masking import (
    ColumnMask,
    Tokenizer,
    apply_masks,
    coarsen_geo,
    generalize_year,
    mask_email,
    mask_text,
)
from lakecrew.services.privacy.phone_mask import mask_phone
from lakecrew.testing.rawcsv import read_text_csv

FIX = Path(__file__).parents[2] / "fixtures" / "quality"
KEY = "k3y-for-tests-0123456789abcdef-XYZ"
OTHER = "another-key-for-tests-9876543210-ABC"


@pytest.fixture(scope="module")
def sites() -> pa.Table:
    return read_text_csv(FIX / "healthsites_contacts_sample.csv")


def test_tokens_are_deterministic_and_join_across_tables(sites: pa.Table) -> None:
    tok = Tokenizer(SecretStr(KEY))
    facilities = sites.select(["uuid", "changeset_user"])
    edits = pa.table({"editor": [" Anebophil ", "sommerluk", "nobody-here"], "n": [1, 2, 3]})
    a = tok.tokenize(facilities.column("changeset_user"), PiiKind.USERNAME)
    b = tok.tokenize(edits.column("editor"), PiiKind.USERNAME)
    assert (
        a.to_pylist()
        == Tokenizer(SecretStr(KEY))
        .tokenize(facilities.column("changeset_user"), PiiKind.USERNAME)
        .to_pylist()
    )
    left = pa.table({"user_tok": a, "uuid": facilities.column("uuid")})
    right = pa.table({"user_tok": b, "n": edits.column("n")})
    joined = left.join(right, "user_tok", join_type="inner")
    users = facilities.column("changeset_user").to_pylist()
    assert joined.num_rows == users.count("anebophil") + users.count("sommerluk")
    assert all(re.fullmatch(r"tok_[0-9a-f]{32}", t) for t in a.to_pylist())
    assert not set(a.to_pylist()) & set(users)


def test_different_keys_give_different_tokens() -> None:
    values = pa.array(["+22522477561", "anebophil"])
    one = Tokenizer(SecretStr(KEY)).tokenize(values, PiiKind.PHONE).to_pylist()
    two = Tokenizer(SecretStr(OTHER)).tokenize(values, PiiKind.PHONE).to_pylist()
    assert not set(one) & set(two)


def test_phone_tokens_normalise_formatting() -> None:
    tok = Tokenizer(SecretStr(KEY))
    assert tok.token("+225 48 80 89 09", PiiKind.PHONE) == tok.token("+22548808909", PiiKind.PHONE)


def test_key_never_leaks(sites: pa.Table, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tok = Tokenizer(SecretStr(KEY))
    logging.getLogger("lakecrew").info("tokenizer %r %s", tok, tok)
    masks = [
        ColumnMask("changeset_user", MaskMethod.TOKENIZE, PiiKind.USERNAME),
        ColumnMask("contact_number", MaskMethod.PARTIAL, PiiKind.PHONE),
    ]
    out = apply_masks(sites, masks, tok)
    dumped = str(out.to_pylist()) + repr(tok) + str(tok) + caplog.text
    errors: list[str] = []
    for bad in (
        lambda: pickle.dumps(tok),
        lambda: Tokenizer(SecretStr("short")),
        lambda: apply_masks(sites, [ColumnMask("nope", MaskMethod.TOKENIZE)], tok),
        lambda: apply_masks(sites, [ColumnMask("name", MaskMethod.GENERALIZE_YEAR)], tok),
    ):
        with pytest.raises((TypeError, ConfigError, DataError)) as err:
            bad()
        errors.append(str(err.value) + repr(err.value))
    for text in (dumped, *errors):
        assert KEY not in text and "short" not in text.replace("shorter", "")


def test_partial_phone_masks_on_real_numbers(sites: pa.Table) -> None:
    masked = apply_masks(sites, [ColumnMask("contact_number", MaskMethod.PARTIAL, PiiKind.PHONE)])
    pairs = zip(
        sites.column("contact_number").to_pylist(),
        masked.column("contact_number").to_pylist(),
        strict=True,
    )
    for raw, out in pairs:
        digits = re.sub(r"\D", "", raw)
        assert out.startswith("+225") or out.startswith("+226")
        assert out.endswith(digits[-2:]) and "*" in out
    assert mask_phone("+234 803 123 4589") == "+234********89"
    assert mask_phone("08031234589") == "*********89"
    assert mask_phone("+1 555 123 4567", keep_country_code=False) == "+*********67"
    assert mask_phone("123") == "***"
    assert mask_phone("+22521256775 / +22507531004") == "+225******75; +225******04"


def test_other_partial_masks() -> None:
    assert mask_email("amina.bello@example.org") == "a***@example.org"
    assert mask_text("Amina Bello") == "A***"
    assert mask_text("Jo") == "***"
    names = pa.table({"firstName": ["Joe", "Rufus", "Fatoumata", None]})
    mask = ColumnMask("firstName", MaskMethod.PARTIAL, PiiKind.PERSON_NAME, keep_last=0)
    out = apply_masks(names, [mask])
    assert out.column("firstName").to_pylist() == ["***", "R***", "F***", None]


def test_generalisation_and_drop(sites: pa.Table) -> None:
    dob = pa.array([date(1990, 5, 17), None, date(2001, 1, 1)])
    assert generalize_year(dob).to_pylist() == [1990, None, 2001]
    with pytest.raises(DataError, match="generalize_year needs a date"):
        generalize_year(pa.array(["1990-05-17"]), column="dob")
    lat = pa.array([6.389735636447199, -0.04, None])
    assert coarsen_geo(lat, grid=0.1).to_pylist() == [6.3, -0.1, None]
    assert coarsen_geo(pa.array(["6.389"]), grid=0.5).to_pylist() == [6.0]
    out = apply_masks(
        sites,
        [
            ColumnMask("changeset_user", MaskMethod.DROP),
            ColumnMask("lat", MaskMethod.COARSEN_GEO, PiiKind.GEO, grid=0.1),
        ],
    )
    assert "changeset_user" not in out.column_names
    assert all(
        round(v * 10) == v * 10 or abs(v * 10 - round(v * 10)) < 1e-9
        for v in out.column("lat").to_pylist()
    )
    with pytest.raises(ConfigError, match="no tokenization key"):
        apply_masks(sites, [ColumnMask("uuid", MaskMethod.TOKENIZE, PiiKind.PATIENT_ID)])


phones = st.builds(
    lambda cc, body, sep: "+" + cc + sep.join([body[:3], body[3:6], body[6:]]),
    st.sampled_from(["234", "225", "226", "233", "221", "231", "232", "1", "44"]),
    st.text("0123456789", min_size=7, max_size=11),
    st.sampled_from(["", " ", "-"]),
)


@settings(max_examples=300, deadline=None)
@given(phones, st.integers(min_value=0, max_value=4))
def test_masked_phone_reveals_only_country_code_and_suffix(phone: str, keep: int) -> None:
    out = mask_phone(phone, keep_last=keep)
    digits = re.sub(r"\D", "", phone)
    shown = re.sub(r"\D", "", out)
    cc = re.match(r"\+(\d+)", out)
    if set(out) == {"*"}:
        return  # too short to keep anything
    assert cc is not None
    expected = cc.group(1) + (digits[len(digits) - keep :] if keep else "")
    assert shown == expected
    assert digits.startswith(cc.group(1))
    assert out.count("*") == len(digits) - len(expected)
