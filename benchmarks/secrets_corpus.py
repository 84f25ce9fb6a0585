"""A labelled secret-scanning corpus: notebooks and scripts with planted credentials.

`build(root, files=400, seed=...)` writes `files` generated files (Databricks SOURCE notebooks,
Python scripts, YAML and .env files, about 60 lines each) plus the public detect-secrets test
cases of `benchmarks/data/secrets/`, and returns `{relative path: {secret line numbers}}`.

Negatives are the look-alikes real notebooks hold: git commit hashes, sha256 checksums, uuids,
base64 images, ssh public keys, secret *references* (`dbutils.secrets.get`, `{{secrets/…}}`,
`os.environ`), URLs without a password, cluster ids. Positives (about one file in four, 1–3
each): Databricks PATs (plain, passed to a call, split over two lines, base64-encoded in YAML),
PostgreSQL / DHIS2 / ODK URLs with a password, JDBC strings, AWS keys, GitHub and Slack tokens,
passwords, private keys. A secret split over lines or encoded is labelled on its first line.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import string
import uuid
from pathlib import Path

PUBLIC = Path(__file__).parent / "data" / "secrets"
HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/"


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _password(rng: random.Random) -> str:
    return (
        _r(rng, string.ascii_letters + string.digits, 10)
        + rng.choice("!#%*")
        + str(rng.randint(10, 99))
    )


def _negatives(rng: random.Random) -> list[str]:
    return [
        f'commit = "{_r(rng, HEX, 40)}"',
        f"checksum: sha256:{_r(rng, HEX, 64)}",
        f'run_id = "{uuid.UUID(int=rng.getrandbits(128))}"',
        f'logo = "data:image/png;base64,{base64.b64encode(rng.randbytes(48)).decode()}"',
        'password = dbutils.secrets.get(scope="etl", key="postgres")',
        'token: "{{secrets/etl/databricks_token}}"',
        'api_key = os.environ["DHIS2_API_KEY"]',
        'url = "postgresql://etl@db.example.org:5432/dhis"',
        'DHIS2_URL = "https://play.dhis2.org/40/api"',
        f'cluster_id = "{rng.randint(1000, 1299)}-{rng.randint(100000, 235959)}-ab1"',
        'df = spark.read.table("main.lassa.cases").where("week >= 10")',
        f"ssh-rsa AAAAB3NzaC1yc2E{base64.b64encode(rng.randbytes(60)).decode()} deploy@ci",
        'spark_version = "15.4.x-scala2.12"',
        f"# epi week {rng.randint(1, 52)}: {rng.randint(0, 400)} suspected cases",
        'display(df.groupBy("state").count())',
        f'etag = "W/\\"{_r(rng, HEX, 32)}\\""',
        "for row in rows:",
        "    total += row.confirmed",
    ]


def _positives(rng: random.Random) -> list[list[str]]:
    pat = "dapi" + _r(rng, HEX, 32)
    pw = _password(rng)
    half = len(pat) // 2
    enc = base64.b64encode(f"token: {pat}".encode()).decode()
    return [
        [f'DATABRICKS_TOKEN = "{pat}"'],
        [f'w = WorkspaceClient(host="https://adb-1.azuredatabricks.net", token="{pat}")'],
        [f'TOKEN = ("{pat[:half]}"', f'         "{pat[half:]}")'],
        [f"credentials: {enc}"],
        [f'conn = psycopg.connect("postgresql://etl:{pw}@db.example.org:5432/dhis")'],
        [f'DHIS2 = "https://admin:{pw}@dhis2.moh.gov.sl/api"'],
        [f'ODK_CENTRAL = "https://collect:{pw}@odk.ehealthafrica.org/v1/projects/3"'],
        [f'jdbc_url = "jdbc:sqlserver://db:1433;database=odk;user=etl;password={pw}"'],
        [f'aws_access_key_id = "AKIA{_r(rng, string.ascii_uppercase + string.digits, 16)}"'],
        [f'GITHUB_TOKEN = "ghp_{_r(rng, string.ascii_letters + string.digits, 36)}"'],
        [f'slack = "xoxb-{rng.randint(10**10, 10**11)}-{_r(rng, string.ascii_letters, 24)}"'],
        [f'db_password = "{pw}"'],
        ["-----BEGIN RSA PRIVATE KEY-----", _r(rng, B64, 64), "-----END RSA PRIVATE KEY-----"],
    ]


def build(root: Path, *, files: int = 400, seed: int = 20261204) -> dict[str, set[int]]:
    rng = random.Random(seed)
    labels: dict[str, set[int]] = {}
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        ext = rng.choice([".py", ".py", ".yaml", ".env", ".sql"])
        lines = ["# Databricks notebook source"] if ext == ".py" else []
        secret_lines: set[int] = set()
        plant = rng.random() < 0.25
        n_secrets = rng.randint(1, 3) if plant else 0
        at = sorted(rng.sample(range(5, 55), n_secrets))
        for j in range(60):
            if at and j == at[0]:
                at.pop(0)
                block = rng.choice(_positives(rng))
                secret_lines.add(len(lines) + 1)
                lines.extend(block)
            else:
                lines.append(rng.choice(_negatives(rng)))
        name = f"nb{i:04d}{ext}"
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        labels[name] = secret_lines
    public = json.loads((PUBLIC / "labels.json").read_text())
    for name, lines_ in public.items():
        shutil.copy(PUBLIC / name, root / name)
        labels[name] = set(lines_)
    return labels
