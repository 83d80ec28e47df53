"""The demo week: realistic province lists for the configured city, and a week half-walked.

Everything is generated from a seed, so the same command writes the same files (and a
second run of `qingling demo` imports nothing twice).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from qingling.common.weeks import SHANGHAI, IsoWeek
from qingling.geo.models import Division

DEMO_PASSWORD = "qingling-demo"  # noqa: S105 - printed to the operator on purpose

HEADERS = [
    "序号", "IP地址", "端口", "发现时间", "运营商", "单位名称", "统一社会信用代码",
    "装机地址", "所属区县", "币种", "矿池", "类型",
]
CARRIERS = [
    ("电信", ["60.12.", "122.224.", "115.192.", "125.120."]),
    ("移动", ["183.128.", "112.13.", "39.170."]),
    ("联通", ["60.163.", "221.12.", "101.71."]),
]
COINS = [("BTC", "btc.f2pool.com:3333"), ("ETC", "etc.2miners.com:1010"),
         ("XMR", "pool.supportxmr.com:3333"), ("LTC", "ltc.viabtc.com:3333"), ("", "")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红"
ROADS = ["中山路", "解放路", "人民路", "建设路", "文昌路", "振兴路", "环城路", "长水路",
         "南湖路", "西塘路", "海昌路", "乍浦路", "梧桐路", "凤鸣路", "工业路"]
BIZ = ["恒达", "新宇", "华星", "嘉禾", "永兴", "金诚", "瑞丰", "宏远", "东方", "海润", "天成"]
KINDS = [
    ("enterprise", 0.30, ["纺织有限公司", "科技有限公司", "五金厂", "电子有限公司", "贸易商行"]),
    ("residential", 0.35, []),
    ("idc", 0.07, ["数据中心", "云计算有限公司"]),
    ("cafe", 0.07, ["网吧", "网咖"]),
    ("school", 0.06, ["职业技术学校", "中学", "小学"]),
    ("party_gov", 0.05, ["人民政府", "街道办事处"]),
    ("public_inst", 0.04, ["卫生院", "社区卫生服务中心"]),
    ("state_owned", 0.03, ["城投集团有限公司", "交投物流有限公司"]),
    ("unknown", 0.03, []),
]
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def make_uscc(rng: random.Random, county_code: str) -> str:
    body = "91" + county_code + "".join(rng.choice(_USCC_CHARS[:10]) for _ in range(9)) + "X"
    body = body[:17]
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _W, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


@dataclass
class Subject:
    key: int
    kind: str
    name: str
    uscc: str
    address: str
    county: str
    carrier: str
    ips: list[str]
    coin: str
    pool: str


class CityGenerator:
    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        city = Division.objects.get(code=settings.QINGLING_CITY_CODE)
        self.city = city
        self.counties = list(city.children.filter(level="county"))
        self.towns = {c.pk: list(c.children.all()) for c in self.counties}
        self._ips: set[str] = set()
        self._n = 0

    def _ip(self, prefixes: list[str]) -> str:
        while True:
            ip = f"{self.rng.choice(prefixes)}{self.rng.randint(1, 254)}.{self.rng.randint(1, 254)}"
            if ip not in self._ips:
                self._ips.add(ip)
                return ip

    def subject(self) -> Subject:
        r = self.rng
        self._n += 1
        kind = r.choices([k[0] for k in KINDS], weights=[k[1] for k in KINDS])[0]
        suffixes = next(k[2] for k in KINDS if k[0] == kind)
        county = r.choice(self.counties)
        town = r.choice(self.towns[county.pk])
        address = (f"{self.city.name}{county.name}{town.name}{r.choice(ROADS)}"
                   f"{r.randint(1, 999)}号")
        if kind in ("residential", "unknown"):
            name = r.choice(SURNAMES) + r.choice(GIVEN) + (r.choice(GIVEN) if r.random() < .6 else "")
            if kind == "unknown":
                name = ""
            uscc = ""
            address += f"{r.randint(1, 30)}幢{r.randint(101, 2404)}室" if kind == "residential" else ""
        else:
            suffix = r.choice(suffixes)
            if kind in ("party_gov",):
                name = f"{town.name}{suffix}"
            elif kind in ("school", "public_inst"):
                name = f"{county.short_name}{town.short_name}{suffix}"
            else:
                name = f"{self.city.short_name}{r.choice(BIZ)}{r.choice(BIZ)}{suffix}"
            uscc = make_uscc(r, county.code) if kind not in ("party_gov",) else ""
        carrier, prefixes = r.choice(CARRIERS)
        n_ips = 1 if kind in ("residential", "unknown") else r.choice([1, 1, 1, 2, 3])
        coin, pool = r.choice(COINS)
        return Subject(self._n, kind, name, uscc, address, county.name, carrier,
                       [self._ip(prefixes) for _ in range(n_ips)], coin, pool)

    def rows(self, subjects: list[Subject], week: IsoWeek, now: datetime) -> Iterator[list[str]]:
        start = week.start()
        latest = min(now, start + timedelta(days=7)) - timedelta(minutes=5)
        span = max(60, int((latest - start).total_seconds()))
        n = 0
        for s in subjects:
            for ip in s.ips:
                n += 1
                when = start + timedelta(seconds=self.rng.randint(0, span - 1))
                # Some provinces leave the county blank or the address short.
                county = s.county if self.rng.random() > 0.08 else ""
                yield [str(n), ip, str(self.rng.choice([3333, 4444, 5555, 14444, 443, 8080])),
                       when.strftime("%Y-%m-%d %H:%M:%S"), s.carrier, s.name, s.uscc,
                       s.address, county, s.coin, s.pool, _kind_label(s.kind)]


def _kind_label(kind: str) -> str:
    return {
        "enterprise": "企业", "residential": "家庭宽带", "idc": "IDC", "cafe": "网吧",
        "school": "学校", "party_gov": "党政机关", "public_inst": "事业单位",
        "state_owned": "国有企业", "unknown": "",
    }[kind]


def write_csv(path: Path, title: str, rows: Iterator[list[str]], encoding: str = "utf-8-sig") -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([title])
    w.writerow(HEADERS)
    w.writerows(rows)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue().encode(encoding))
    tmp.replace(path)


def write_xlsx(path: Path, title: str, rows: Iterator[list[str]]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    tmp = path.with_suffix(".tmp")
    wb.save(tmp)
    tmp.replace(path)


def demo_files(out: Path, now: datetime | None = None, seed: int = 2026) -> dict[str, Path]:
    """Write last week's and this week's key and stock lists. Returns name → path."""
    now = now or timezone.now()
    out.mkdir(parents=True, exist_ok=True)
    g = CityGenerator(seed)
    this = IsoWeek.of(now)
    last = this.shift(-1)
    stock = [g.subject() for _ in range(300)]
    key_last = [g.subject() for _ in range(20)] + stock[:5]
    # This week: 3 of last week's key items come back (rebound), 2 stock items escalate.
    key_this = [g.subject() for _ in range(25)] + key_last[:3] + stock[5:7]
    stock_this = stock[10:] + [g.subject() for _ in range(8)]
    files = {
        "key_last": out / f"{last}-重点名单.csv",
        "stock_last": out / f"{last}-存量名单.csv",
        "key_this": out / f"{this}-重点名单.xlsx",
        "stock_this": out / f"{this}-存量名单.csv",
    }
    write_csv(files["key_last"], f"{last} 虚拟货币挖矿重点名单", g.rows(key_last, last, now))
    write_csv(files["stock_last"], f"{last} 存量名单", g.rows(stock, last, now), "gb18030")
    write_xlsx(files["key_this"], f"{this} 虚拟货币挖矿重点名单", g.rows(key_this, this, now))
    write_csv(files["stock_this"], f"{this} 存量名单", g.rows(stock_this, this, now))
    return files


def demo_photo() -> bytes:
    """A small PNG standing in for a site photo (a picture of a rack of machines)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 200), (232, 236, 243))
    d = ImageDraw.Draw(img)
    for i in range(6):
        x = 20 + i * 48
        d.rectangle([x, 40, x + 40, 160], fill=(60, 64, 72), outline=(20, 20, 20))
        for j in range(5):
            d.ellipse([x + 12, 50 + j * 22, x + 28, 66 + j * 22], fill=(120, 190, 90))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


DEMO_USERS = [
    # username, role, county code, department code, display name
    ("city", "city", None, None, "市整治办 李主任"),
    ("leader", "leader", None, None, "市领导 王"),
    ("psb", "department", None, "psb", "市公安局 张警官"),
    ("nanhu", "county", "330402", None, "南湖区 整治办"),
    ("xiuzhou", "county", "330411", None, "秀洲区 整治办"),
    ("jiashan", "county", "330421", None, "嘉善县 整治办"),
    ("haiyan", "county", "330424", None, "海盐县 整治办"),
    ("haining", "county", "330481", None, "海宁市 整治办"),
    ("pinghu", "county", "330482", None, "平湖市 整治办"),
    ("tongxiang", "county", "330483", None, "桐乡市 整治办"),
    ("nanhu-verifier", "verifier", "330402", None, "南湖区 核查员"),
    # The other member units of the work group (section 四), each with its own tasks.
    *[(code, "department", None, code, f"{name} 联络员") for code, name in (
        ("grid", "国网嘉兴供电公司"), ("finance", "市财政局"), ("tax", "市税务局"),
        ("finoffice", "市金融办"), ("pboc", "人行嘉兴市中心支行"), ("cbirc", "嘉兴银保监分局"),
        ("amr", "市市场监管局"), ("eit", "市经信局"), ("education", "市教育局"),
        ("culture", "市文化广电旅游局"), ("sasac", "市国资委"), ("discipline", "市纪委监委"),
        ("gov_office", "市机关事务管理局"), ("health", "市卫生健康委"),
        ("telecom", "电信嘉兴市分公司"), ("mobile", "中国移动嘉兴分公司"),
        ("unicom", "联通嘉兴市分公司"), ("propaganda", "市委宣传部"), ("cac", "市委网信办"))],
]


STEPS = ["sign", "start_verification", "visit", "confirm", "start_rectification", "evidence",
         "request_clearance", "clear"]


def walk_case(case_id: int, until: str, at: datetime, now: datetime) -> None:
    """Take one case through the loop as its county and the city would, up to ``until``."""
    from qingling.cases.models import Case
    from qingling.cases.services import case_transition, evidence_add, visit_record
    from qingling.org.models import Profile, Role

    case = Case.objects.get(pk=case_id)
    officer = Profile.objects.filter(role=Role.COUNTY, county_id=case.county_id).first()
    city = Profile.objects.filter(role=Role.CITY).first()
    if officer is None or city is None:
        return
    for step in STEPS[: STEPS.index(until) + 1]:
        at = min(at + timedelta(hours=2), now)
        if step == "visit":
            machines = random.Random(case_id).randint(1, 12)
            # A school's machines are usually a trojan's (被控): the police trace it.
            hijacked = case.subject_type == "school"
            visit_record(case_id=case_id, actor=officer.user, visited_at=at, found_mining=True,
                         behaviour="hijacked" if hijacked else "",
                         machine_count=machines, machine_model="Antminer S19",
                         power_kw=Decimal("3.25") * machines,
                         machines_seized=1, power_cut=True, notes="现场发现矿机，已断电扣押。")
        elif step == "evidence":
            evidence_add(case_id=case_id, actor=officer.user, stream=io.BytesIO(demo_photo()),
                         original_name="现场照片.png", caption="断电后的矿机")
        else:
            if step == "clear":
                demo_finish_tasks(case_id, at)
            actor = city.user if step == "clear" else officer.user
            case_transition(case_id=case_id, action=step, actor=actor, now=at)


def demo_finish_tasks(case_id: int, at: datetime) -> None:
    """Each member unit finishes its mandatory tasks on a case about to be cleared, as its
    officer would: an outcome and a document."""
    from qingling.org.models import Profile, Role
    from qingling.tasks.models import OPEN_TASK_STATES, DepartmentTask
    from qingling.tasks.services import task_move

    for task in DepartmentTask.objects.filter(case_id=case_id, mandatory=True,
                                              state__in=OPEN_TASK_STATES):
        officer = Profile.objects.filter(role=Role.DEPARTMENT, department_id=task.department_id,
                                         county__isnull=True).first()
        if officer is None:
            continue
        task_move(task_id=task.pk, move="complete", actor=officer.user, now=at,
                  outcome=f"{task.kind.name}：已办结（演示）", upload=io.BytesIO(demo_photo()),
                  upload_name="办结材料.png")


def demo_walk(week: IsoWeek, now: datetime, *, share: float, clear_every: int) -> int:
    """Walk a share of a week's key-list cases; every ``clear_every``-th all the way to 销号."""
    from qingling.cases.models import Case, State

    cases = list(Case.objects.filter(on_key_list=True, last_week=str(week),
                                     state=State.DISPATCHED, county__isnull=False)
                 .order_by("id").values_list("id", "first_evidence_at"))
    rng = random.Random(str(week))
    start = week.start()
    walked = 0
    for i, (case_id, seen) in enumerate(cases):
        if rng.random() > share:
            continue
        until = "clear" if i % clear_every == 0 else rng.choice(STEPS[:-1])
        # The county acts on a case after the province found it, never before.
        begin = max(start + timedelta(hours=i), seen or start)
        walk_case(case_id, until, begin, now)
        walked += 1
    return walked


def demo_tariff_accounts(now: datetime, limit: int = 3) -> int:
    """Register a few confirmed sites' electricity accounts with their last two monthly
    bills (kW × 24 h × days), so the surcharge register and metered energy have data."""
    from qingling.cases.models import Case, SiteVisit
    from qingling.supervision.models import BillingCycle, TariffAccount

    made = 0
    local = now.astimezone(SHANGHAI).date()
    this_month = local.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    for case in Case.objects.filter(visits__found_mining=True).distinct().order_by("id")[:limit]:
        visit = SiteVisit.objects.filter(case=case, found_mining=True).first()
        if visit is None or visit.power_kw is None:
            continue
        acct, created = TariffAccount.objects.get_or_create(
            account_no=f"33{case.pk:08d}",
            defaults={"case": case, "holder": case.subject_name, "address": case.address,
                      "mining_from": last_month + timedelta(days=9),
                      "mining_to": visit.visited_at.astimezone(SHANGHAI).date(),
                      "mixed_use": case.pk % 2 == 0})
        made += created
        for start, end in ((last_month, this_month - timedelta(days=1)),
                           (this_month, local)):
            days = (end - start).days + 1
            BillingCycle.objects.get_or_create(
                account=acct, start=start,
                defaults={"end": end, "kwh": visit.power_kw * 24 * days + 150})
    return made


def demo_makers(now: datetime) -> int:
    """Two mining-equipment makers the economy & IT bureau registered, one rectified."""
    from qingling.makers.models import Maker
    from qingling.makers.services import item_add, item_done, maker_add
    from qingling.org.models import Profile, Role

    eit = Profile.objects.filter(role=Role.DEPARTMENT, department__code="eit").first()
    if eit is None or Maker.objects.exists():
        return 0
    g = CityGenerator(7)
    made = 0
    for i, (suffix, products) in enumerate((("电子科技有限公司", "矿机电源、散热风扇"),
                                            ("机电设备有限公司", "矿机整机组装"))):
        county = g.counties[i % len(g.counties)]
        maker = maker_add(actor=eit.user, name=f"{g.city.short_name}{BIZ[i]}{suffix}",
                          uscc=make_uscc(g.rng, county.code), county_code=county.code,
                          products=products, now=now)
        item = item_add(actor=eit.user, maker_id=maker.pk, description="停止矿机相关产品生产销售",
                        due_on=(now + timedelta(days=14)).date(), now=now)
        if i == 0:
            item_done(actor=eit.user, item_id=item.pk, outcome="已停产并签订不再生产承诺书",
                      upload=io.BytesIO(demo_photo()), upload_name="承诺书.png", now=now)
        made += 1
    return made
