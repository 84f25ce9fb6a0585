"""Build the labelled PII string set of bench_pii (run once; its output is vendored).

    .venv/bin/python -m benchmarks.pii_corpus /work/shared/data benchmarks/data/pii/strings.csv

Public strings (see benchmarks/data/pii/SOURCE.md for licences): healthsites.io contact numbers
(phone) and OSM user names, facility names, ids, timestamps and coordinates (negatives, and GPS
pairs labelled geo); NCDC Lassa rows (dates, counts, state names: negatives); eHealth Africa
Liberia location names and DHIS2 codes (negatives). Generated with
a fixed seed: Nigerian (+234 / 080x…), Ghanaian, Sierra Leonean and Liberian phone numbers in the
ways people write them, NINs, Ghana Card PINs, e-mail addresses, household GPS pairs, and tricky
negatives (ids, versions, amounts, epi weeks, IP addresses, 12-digit numbers, 'user@host' OSM
names). Each row gets a split by a hash of the text: 70 % `dev` (used while writing the
detectors), 30 % `test` (held out: the headline figures).
"""

from __future__ import annotations

import csv
import hashlib
import random
import sys
from pathlib import Path

FIRST = (
    "Aminata Kofi Fatmata Ngozi Chinedu Abena Mohamed Musu Emeka Akosua Ibrahim Hawa".split()  # noqa: SIM905
)
LAST = (
    "Kamara Mensah Sesay Okafor Boateng Conteh Flomo Adeyemi Bangura Owusu Doe Bello".split()  # noqa: SIM905
)
DOMAINS = ["gmail.com", "yahoo.com", "ehealthafrica.org", "moh.gov.sl", "ncdc.gov.ng", "ghs.gov.gh"]


def _split(text: str) -> str:
    return "test" if int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 10 < 3 else "dev"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _group(number: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        out.append(number[i : i + s])
        i += s
    if i < len(number):
        out.append(number[i:])
    return sep.join(out)


def _phones(rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for _ in range(150):  # Nigeria
        sub = rng.choice(["803", "806", "813", "816", "703", "706", "802", "808", "905", "915"])
        rest = _digits(rng, 7)
        out += [
            (
                rng.choice([f"0{sub}{rest}", _group(f"0{sub}{rest}", (4, 3), rng.choice(" -"))]),
                "ng",
            ),
            (
                rng.choice(
                    [f"+234{sub}{rest}", f"+234 {sub} {rest[:3]} {rest[3:]}", f"234{sub}{rest}"]
                ),
                "ng",
            ),
        ]
    for _ in range(100):  # Ghana
        sub = rng.choice(["24", "54", "55", "20", "50", "27", "26", "30"])
        rest = _digits(rng, 7)
        out += [
            (rng.choice([f"0{sub}{rest}", f"0{sub} {rest[:3]} {rest[3:]}"]), "gh"),
            (rng.choice([f"+233{sub}{rest}", f"+233 {sub} {rest[:3]} {rest[3:]}"]), "gh"),
        ]
    for _ in range(100):  # Sierra Leone
        sub = rng.choice(["76", "77", "78", "79", "30", "33", "88", "99", "25"])
        rest = _digits(rng, 6)
        out += [
            (
                rng.choice([f"0{sub}{rest}", f"0{sub} {rest}", f"0{sub}-{rest[:3]}-{rest[3:]}"]),
                "sl",
            ),
            (rng.choice([f"+232{sub}{rest}", f"+232 {sub} {rest}"]), "sl"),
        ]
    for _ in range(100):  # Liberia
        sub = rng.choice(["77", "88", "55"])
        rest = _digits(rng, 7)
        out += [
            (rng.choice([f"0{sub}{rest}", f"0{sub}{rest[0]} {rest[1:4]} {rest[4:]}"]), "lr"),
            (rng.choice([f"+231{sub}{rest}", f"+231 {sub}{rest[0]} {rest[1:4]} {rest[4:]}"]), "lr"),
        ]
    return out


def _generated(rng: random.Random) -> list[tuple[str, str, str]]:
    rows = [(p, "phone", f"generated:{c}") for p, c in _phones(rng)]
    for _ in range(300):
        nin = rng.choice("123456789") + _digits(rng, 10)
        rows.append((nin, "national_id", "generated:nin"))
        card = f"GHA-{_digits(rng, 9)}-{_digits(rng, 1)}"
        rows.append(
            (
                rng.choice([card, card.replace("-", " "), card.lower()]),
                "national_id",
                "generated:ghana_card",
            )
        )
    for _ in range(300):
        f, last = rng.choice(FIRST), rng.choice(LAST)
        local = rng.choice(
            [f"{f}.{last}", f"{f[0]}{last}", f"{f}{rng.randint(1, 99)}", f"{last}_{f}"]
        )
        rows.append((f"{local.lower()}@{rng.choice(DOMAINS)}", "email", "generated:email"))
    for _ in range(200):
        lat, lon = rng.uniform(4.3, 13.9), rng.uniform(-13.3, 14.6)
        rows.append(
            (
                rng.choice(
                    [f"{lat:.6f}, {lon:.6f}", f"{lat:.5f},{lon:.5f}", f"({lat:.6f} {lon:.6f})"]
                ),
                "geo",
                "generated:gps",
            )
        )
    for _ in range(200):  # tricky negatives
        rows += [
            (_digits(rng, 12), "none", "generated:id12"),
            (
                f"{rng.randint(1, 30)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}",
                "none",
                "generated:version",
            ),
            (f"{rng.randint(1000, 99999)}.{rng.randint(10, 99)}", "none", "generated:amount"),
            (f"{rng.randint(2018, 2026)}-W{rng.randint(1, 52):02d}", "none", "generated:epiweek"),
            (
                ".".join(str(rng.randint(1, 223)) for _ in range(4)),
                "none",
                "generated:ip",
            ),
            (f"run-{_digits(rng, 11)}", "none", "generated:run_id"),
            (
                f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2018, 2026)}",
                "none",
                "generated:date",
            ),
        ]
    return rows


def _public(data: Path) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with (data / "healthsites_west_africa/healthsites_io_west_africa_snapshot.csv").open() as fh:
        sites = list(csv.DictReader(fh))
    for r in sites:
        if r["contact_number"].strip():
            rows.append((r["contact_number"].strip(), "phone", "healthsites:contact_number"))
    rng = random.Random(11)
    for r in rng.sample(sites, 600):
        for col, kind in (
            ("name", "none"),
            ("osm_id", "none"),
            ("changeset_timestamp", "none"),
            ("uuid", "none"),
            ("changeset_user", "none"),
            ("changeset_id", "none"),
        ):
            if r[col].strip():
                rows.append((r[col].strip(), kind, f"healthsites:{col}"))
        if r["lat"] and r["lon"]:
            rows.append(
                (f"{float(r['lat']):.6f}, {float(r['lon']):.6f}", "geo", "healthsites:lat,lon")
            )
    with (data / "ng_lassa_biodivhealth/lassa_data_latest.csv").open() as fh:
        for r in list(csv.DictReader(fh))[:300]:
            rows += [(str(v).strip(), "none", "ncdc_lassa") for v in r.values() if str(v).strip()][
                :4
            ]
    with (data / "eha_locations_sl_lr_gn/liberia_locations_input.csv").open() as fh:
        for r in list(csv.DictReader(fh))[:400]:
            rows += [
                (r["code"], "none", "eha_locations:code"),
                (r["complete name"], "none", "eha_locations:name"),
            ]
    return rows


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    rows = _public(data) + _generated(random.Random(20261204))
    seen: set[str] = set()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "kind", "source", "split"])
        for text, kind, source in rows:
            if text and text not in seen:
                seen.add(text)
                w.writerow([text, kind, source, _split(text)])
    print(f"{len(seen)} strings -> {out}")


if __name__ == "__main__":
    main()
