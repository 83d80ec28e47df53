"""Personas and helpers shared by every test.

The personas of the work plan: the city coordinator, an officer of county A (南湖区), an
officer of county B (秀洲区) who must see nothing of A, a department officer, a verifier
of county A, a read-only leader, and an outsider with an account but no role.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from qingling.cases.reference import rules_load
from qingling.common.weeks import SHANGHAI, IsoWeek
from qingling.geo.services import divisions_load
from qingling.org.services import departments_load, user_provision

# One key-encryption key for the whole run: the test database (and the data keys it keeps)
# outlives any one test's QINGLING_HOME.
os.environ.setdefault("QINGLING_DATA_KEY", "q" * 43 + "=")

SHARED = Path(__file__).resolve().parents[2] / "shared"
COUNTY_A = "330402"  # 南湖区
COUNTY_B = "330411"  # 秀洲区
PASSWORD = "a-test-password"
HEADER = ["IP地址", "端口", "发现时间", "运营商", "单位名称", "统一社会信用代码", "装机地址",
          "所属区县", "类型"]


@pytest.fixture(autouse=True)
def _isolated_files(settings: Any, tmp_path: Path) -> Iterator[None]:
    from qingling.common.crypto import reset_cache

    # Each test's database starts without data keys: forget the last test's.
    reset_cache()
    settings.MEDIA_ROOT = tmp_path / "files"
    # Spooled uploads and other files under QINGLING_HOME stay in the test's directory.
    settings.QINGLING_HOME = tmp_path / "home"
    # Tests log in many personas; a slow password hash only costs time here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Services speak the user's language; tests match the English messages. A request
    # through the test client still gets Chinese by default (LocaleMiddleware).
    with translation.override("en"):
        yield


@pytest.fixture
def ref(db: None) -> None:
    divisions_load()
    departments_load()
    rules_load()


@pytest.fixture
def task_routes(ref: None) -> None:
    """The department-task routing table with its defaults (section 四). Other tests run
    without it: a case then has no department tasks holding its clearance."""
    from qingling.tasks.services import tasks_load

    tasks_load()


@dataclass
class Personas:
    city: User
    county_a: User
    county_b: User
    dept: User
    dept_other: User
    verifier_a: User
    leader: User
    outsider: User


@pytest.fixture
def people(ref: None) -> Personas:
    def make(name: str, role: str, county: str | None = None, dept: str | None = None) -> User:
        u = user_provision(username=name, password=PASSWORD, role=role, county_code=county,
                           department_code=dept)
        return u  # type: ignore[return-value]

    outsider = User.objects.create_user("outsider", password=PASSWORD)
    return Personas(
        city=make("city", "city"),
        county_a=make("nanhu", "county", COUNTY_A),
        county_b=make("xiuzhou", "county", COUNTY_B),
        dept=make("psb", "department", dept="psb"),
        dept_other=make("edu", "department", dept="education"),
        verifier_a=make("nanhu-v", "verifier", COUNTY_A),
        leader=make("leader", "leader"),
        outsider=outsider,
    )


def csv_bytes(rows: Iterable[list[str]], header: list[str] | None = None,
              encoding: str = "utf-8", title: str | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    if title:
        w.writerow([title])
    w.writerow(header or HEADER)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def row(ip: str, name: str = "", county: str = "南湖区", address: str = "", uscc: str = "",
        kind: str = "", when: str = "2026-11-20 10:00:00") -> list[str]:
    return [ip, "3333", when, "电信", name, uscc, address, county, kind]


WEEK = IsoWeek(2026, 47)
NEXT_WEEK = IsoWeek(2026, 48)


def client_for(user: object | None) -> Client:
    """A test client signed in as ``user`` (None: anonymous)."""
    c = Client()
    if user is not None:
        c.force_login(user)  # type: ignore[arg-type]
    return c


def at(text: str) -> datetime:
    """A local (Asia/Shanghai) time, as the work group reads it: at("2026-11-20T18:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def make_case(county: str | None = COUNTY_A, **fields: Any) -> Any:
    """A case in the given state, built directly (not through a list import)."""
    from django.utils import timezone

    from qingling.cases.models import Case
    from qingling.geo.models import Division

    now = timezone.now()
    defaults: dict[str, Any] = {
        "subject_key": f"test:{Case.objects.count() + 1}", "state": "dispatched",
        "county": Division.objects.get(code=county) if county else None,
        "created_at": now, "updated_at": now}
    defaults.update(fields)
    return Case.objects.create(**defaults)


def make_lead(n: int, county: str | None = COUNTY_A, *, dst: str = "203.0.113.10",
              port: int = 8883, township: Any = None) -> Any:
    """A monitoring lead awaiting the city (待分派), with the network signal that made it:
    host 10.9.0.<n> talking to ``dst:port``, resolved to subscriber JX<n>."""
    from django.utils import timezone

    from qingling.cases.identity import link_ip
    from qingling.common.crypto import encrypt
    from qingling.screening.models import Signal, Subscriber

    now = timezone.now()
    case = make_case(county, state="pending", found_by_monitoring=True,
                     subject_name=f"测试用户{n}", address=f"嘉兴市南湖区凤桥镇测试路{n}号",
                     subject_type="residential", township=township)
    src = f"10.9.{n // 256}.{n % 256}"
    link_ip(case, src, now)
    sub = Subscriber.objects.create(carrier="电信", account=f"JX{n:08d}",
                                    name_enc=encrypt(f"测试用户{n}"), county=case.county)
    Signal.objects.create(
        key=f"network:test:{n}", case=case, subscriber=sub, kind=Signal.Kind.NETWORK,
        observed_at=now, confidence=0.6, summary=f"suspicious 0.60 → {dst}:{port}",
        payload={"pair": f"{src}|{dst}|{port}|tcp", "verdict": "suspicious", "score": 0.6,
                 "evidence": f"{dst}:{port}", "resolution": {"status": "resolved",
                                                             "account": sub.account}})
    case.refresh_from_db()
    return case


# --- no English prose on Chinese pages -------------------------------------------------------

# Codes a Chinese page may carry as they are.
CODES = {
    "IP", "IPv4", "IPv6", "XLSX", "CSV", "DOCX", "PDF", "JPEG", "PNG", "WebP", "kW", "kWh",
    "tCO2", "tce", "kgce", "kVA", "RADIUS", "CGNAT", "NAT", "TCP", "UDP", "sha256", "ID", "GeoJSON",
    "MB", "KB", "B", "s", "min", "pkt", "ACK", "PSH", "Stratum", "stratum", "TLS", "SNI",
    "DNS", "JSON", "API", "Django", "Qingling", "Asia", "Shanghai", "UTC", "Excel",
    "ECharts", "WPS", "LibreOffice", "soffice", "Control", "Command", "Mac", "AM", "PM",
}
_SKIP = re.compile(r"<(script|style|noscript|code)\b.*?</\1>|<!--.*?-->", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_ALLOWED = re.compile(
    r"https?://\S+|[\w.+-]+@[\w-]+\.[\w.]+"  # URLs, e-mail
    r"|\b\d{4}-W\d{2}\b"  # ISO week ids
    r"|\b[\w.-]+\.(?:csv|xlsx|xls|docx|pdf|parquet|json|png|jpg|txt|log|md)\b"  # file names
    r"|\b[0-9a-fA-F]{8,}\b"  # hashes
    r"|\b[\w-]+(?:\.[\w-]+)+:\d+\b"  # host:port
    r"|/[\w/.-]+"  # paths
    r"|\b[a-z0-9]+(?:-[a-z0-9]+){2,}\b"  # package names (libreoffice-writer-nogui)
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")


def english_prose(page: str, names: set[str]) -> list[str]:
    """Runs of two or more English words (or one word of four letters or more)
    left in a page's visible text once codes and names are set aside. What a page marks as
    code (``<code>``: cell values, commands, records) is not prose."""
    text = html.unescape(_TAG.sub(" ", _SKIP.sub(" ", page)))
    text = _ALLOWED.sub(" ", text)
    found: list[str] = []
    for line in text.splitlines():
        run: list[str] = []
        pos = 0
        for m in _WORD.finditer(line + " \x00"):
            w = m.group()
            gap = line[pos:m.start()]
            if run and not re.fullmatch(r"[\s,;:()\-–'\"]*", gap):
                found += _judge(run)
                run = []
            if w in CODES or w in names:
                found += _judge(run)
                run = []
            else:
                run.append(w)
            pos = m.end()
        found += _judge(run)
    return found


def _judge(run: list[str]) -> list[str]:
    if len(run) >= 2 or (len(run) == 1 and len(run[0]) >= 4):
        return [" ".join(run)]
    return []
