"""Load on what users run: `qingling serve` (process start included) on a database of
70,000 cases, driven over loopback only.

    python bench/load.py [--cases 70000] [--users 20] [--seconds 20] [--import-rows 100000]

1. The case list with N concurrent signed-in users (a city coordinator's and county
   officers' filters): requests/s, p50 and p95 (aim: ≥ 100 req/s, p95 ≤ 300 ms on 2 cores).
2. A county officer's save (签收) while `qingling import-list` writes a 100,000-row list
   in another process: save p50/p95 and errors — 503 "busy" pages counted as errors
   (aim: no error, p95 ≤ 1 s) — beside the import's own time alone.

Bounded: every request goes to 127.0.0.1, every phase has a time limit.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT

PASSWORD = "Bench-load-2026"  # noqa: S105 - a throwaway database's bench users
QUERIES = ["", "?state=open", "?state=open&sort=due", "?list_type=key&state=open",
           "?overdue=1", "?grade=L1&sort=-updated", "?page=7", "?q=60.12.3"]


def populate(n_cases: int) -> dict[str, object]:
    import random
    from datetime import timedelta

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from qingling.cases.models import Case, Grade, State
    from qingling.common.db import refresh_planner_statistics
    from qingling.geo.models import Division
    from qingling.org.models import Department, SubjectType
    from qingling.org.services import user_provision

    call_command("init", verbosity=0)
    rng = random.Random(7)
    counties = list(Division.objects.filter(level="county").order_by("code"))
    depts = list(Department.objects.all())
    now = timezone.now()
    batch = []
    for i in range(n_cases):
        key = rng.random() < 0.1
        ip = f"60.{i // 65536}.{(i // 256) % 256}.{i % 256}"
        batch.append(Case(
            subject_key=f"ip:{ip}", subject_name=f"主体{i}", county=rng.choice(counties),
            subject_type=rng.choice(SubjectType.values), grade=rng.choice(Grade.values),
            lead_department=rng.choice(depts),
            state=State.DISPATCHED if rng.random() < 0.3 else rng.choice(State.values),
            on_key_list=key, on_stock_list=not key, first_week="2026-W40",
            last_week="2026-W48", ip_summary=ip, created_at=now,
            due_at=now + timedelta(hours=rng.randint(-200, 100)) if key else None,
            updated_at=now - timedelta(minutes=rng.randint(0, 50000))))
        if len(batch) == 5000:
            Case.objects.bulk_create(batch)
            batch = []
    Case.objects.bulk_create(batch)
    refresh_planner_statistics("cases_case")
    user_provision(username="city", password=PASSWORD, role="city")
    for n, county in enumerate(counties):
        user_provision(username=f"county{n}", password=PASSWORD, role="county",
                       county_code=county.code)
    signable = list(Case.objects.filter(county=counties[0], state=State.DISPATCHED)
                    .order_by("id").values_list("id", flat=True)[:3000])
    return {"counties": len(counties), "signable": signable}


class Session:
    """One signed-in browser: a keep-alive connection, its cookies and CSRF token."""

    def __init__(self, port: int, username: str) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.location = ""
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        page = self.request("GET", "/login/")[1]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        status, _ = self.request("POST", "/login/", {
            "csrfmiddlewaretoken": token.group(1), "username": username,
            "password": PASSWORD, "next": "/inbox/"})
        assert status == 302, f"sign-in of {username} failed: {status}"

    def request(self, method: str, path: str, form: dict[str, str] | None = None
                ) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                   "Host": f"127.0.0.1:{self.port}", "Referer": f"http://127.0.0.1:{self.port}/"}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            if "csrftoken" in self.cookies:
                headers["X-CSRFToken"] = self.cookies["csrftoken"]
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        self.location = resp.headers.get("Location", "")
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(env: dict[str, str], port: int, server: str) -> subprocess.Popen[bytes]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "qingling", "serve", "--port", str(port),
                             "--server", server],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.perf_counter() - started < 60:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                print(f"  qingling serve --server {server} up in "
                      f"{time.perf_counter() - started:.1f} s")
                return proc
        time.sleep(0.1)  # polling for the port, not timing anything
    proc.kill()
    raise SystemExit("qingling serve did not start within 60 s")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * p) - 1)] if ordered else float("nan")


def case_list_load(port: int, users: int, seconds: float, counties: int) -> float:
    sessions = [Session(port, "city" if i % 4 == 0 else f"county{i % counties}")
                for i in range(users)]
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def run(s: Session, k: int) -> None:
        i = k
        while time.perf_counter() < stop:
            t = time.perf_counter()
            status, _ = s.request("GET", "/cases/" + QUERIES[i % len(QUERIES)])
            ms = (time.perf_counter() - t) * 1000
            with lock:
                times.append(ms)
                errors[0] += status != 200
            i += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(s, k)) for k, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    print(f"  case list, {users} users for {wall:.0f} s: {len(times) / wall:.1f} req/s, "
          f"p50 {statistics.median(times):.0f} ms, p95 {pct(times, 0.95):.0f} ms, "
          f"errors {errors[0]}   (aim: >= 100 req/s, p95 <= 300 ms)")
    return len(times) / wall


def big_list(path: Path, rows: int) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["IP地址", "端口", "发现时间", "运营商", "单位名称", "装机地址", "所属区县"])
    for i in range(rows):
        w.writerow([f"61.{i // 65536}.{(i // 256) % 256}.{i % 256}", "3333",
                    "2026-11-16 10:00:00", "电信", f"单位{i}", "", "南湖区"])
    path.write_text(buf.getvalue(), encoding="utf-8")


def import_list(env: dict[str, str], path: Path, week: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "qingling", "import-list", str(path),
                             "--list-type", "stock", "--week", week], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def saves_during_import(port: int, env: dict[str, str], signable: list[int], rows: int,
                        home: Path) -> None:
    a, b = home / "alone.csv", home / "during.csv"
    big_list(a, rows)
    big_list(b, rows)
    b.write_text(b.read_text(encoding="utf-8").replace("\n61.", "\n62."), encoding="utf-8")
    t = time.perf_counter()
    alone = import_list(env, a, "2026-W47")
    alone.wait(timeout=1800)
    alone_s = time.perf_counter() - t
    officer = Session(port, "county0")
    times: list[float] = []
    errors = 0
    t = time.perf_counter()
    proc = import_list(env, b, "2026-W48")
    ids = iter(signable)
    while proc.poll() is None and time.perf_counter() - t < 1800:
        case_id = next(ids, None)
        if case_id is None:
            break
        s = time.perf_counter()
        status, _ = officer.request("POST", f"/cases/{case_id}/act/sign/", {
            "csrfmiddlewaretoken": officer.cookies.get("csrftoken", ""), "comment": ""})
        times.append((time.perf_counter() - s) * 1000)
        # A save lands back on its case page; a 503 busy page or a sign-in redirect is an error.
        errors += not (status == 302 and officer.location.startswith(f"/cases/{case_id}/"))
    proc.wait(timeout=1800)
    during_s = time.perf_counter() - t
    failed = proc.returncode != 0
    print(f"  import of {rows:,} rows: {alone_s:.1f} s alone, {during_s:.1f} s with saves "
          f"(ratio {during_s / alone_s:.2f}){'  IMPORT FAILED' if failed else ''}")
    if times:
        print(f"  county officer's saves during the import: {len(times)}, p50 "
              f"{statistics.median(times):.0f} ms, p95 {pct(times, 0.95):.0f} ms, max "
              f"{max(times):.0f} ms, errors {errors}   (aim: no error, p95 <= 1 s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=70_000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--import-rows", type=int, default=100_000)
    ap.add_argument("--no-import", action="store_true", help="measure the case list only")
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--servers", default="gunicorn,waitress",
                    help="web servers to compare on the case list (the first also serves the "
                         "saves during the import)")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(populate(args.cases)))
        return
    print(f"load benchmark: qingling serve on {args.cases:,} cases (SQLite, the embedded "
          "default), loopback only")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = dict(os.environ, QINGLING_HOME=str(home), PYTHONPATH=str(ROOT / "src"),
                   DJANGO_SETTINGS_MODULE="qingling.config.settings",
                   QINGLING_LOGIN_ADDRESS_LIMIT="100000")
        env.pop("DATABASE_URL", None)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--worker", "--cases", str(args.cases)],
                             env=env, check=True, capture_output=True, text=True, cwd=ROOT)
        info = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  database of {args.cases:,} cases made in {time.perf_counter() - t:.0f} s")
        rates: dict[str, float] = {}
        servers = [x for x in args.servers.split(",") if x]
        for server in reversed(servers):  # the first named last: it also serves the saves
            port = free_port()
            proc = serve(env, port, server)
            try:
                rates[server] = case_list_load(port, args.users, args.seconds,
                                               int(info["counties"]))
                if server == servers[0] and not args.no_import:
                    saves_during_import(port, env, list(info["signable"]), args.import_rows,
                                        home)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
        if len(rates) > 1:
            base = rates[servers[-1]]
            print("  case list req/s by server: " + ", ".join(
                f"{k} {v:.1f} ({v / base:.2f}x {servers[-1]})" for k, v in rates.items()))


if __name__ == "__main__":
    main()
