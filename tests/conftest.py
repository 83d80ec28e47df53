"""Personas and helpers shared by every test.

The personas of the work plan: the city coordinator, an officer of county A (南湖区), an
officer of county B (秀洲区) who must see nothing of A, a department officer, a verifier
of county A, a read-only leader, and an outsider with an account but no role.
"""

from __future__ import annotations

import csv
import io
import os
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
