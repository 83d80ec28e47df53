"""The payload layer: JSON-RPC messages in both directions of a TCP stream.

A parser of the "method" field in both directions is what caught 10 of 10 real mining
captures with no false alarm (DETECTION.md A). Compact and spaced JSON both match; a
message split across TCP segments is matched once the stream is reassembled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

METHOD = re.compile(rb'"method"\s*:\s*"([A-Za-z0-9_.\-/]{1,64})"')
REPLY = re.compile(rb'"id"\s*:\s*[^,}]{1,40},?\s*("jsonrpc"\s*:\s*"[0-9.]+"\s*,\s*)?"(result|error)"\s*:')
POOL_JOB = re.compile(rb'"job"\s*:\s*\{\s*"blob"|"method"\s*:\s*"job"\s*,\s*"params"\s*:\s*\{\s*"blob"')
AGENT = re.compile(rb'"agent"\s*:\s*"([^"]{1,80})"')
LOGIN_PARAMS = re.compile(rb'"(pass|agent|algo|rigid)"\s*:')
# A pool accepting a share: {"result":{"status":"OK"}} (Monero) or {"result":true}.
SHARE_ACK = re.compile(rb'"result"\s*:\s*(true\b|\{\s*"status"\s*:\s*"OK"\s*\})')
SUBMIT_LINE = re.compile(rb'"method"\s*:\s*"(submit|mining\.submit|eth_submitWork)"')
HEX = re.compile(r"[0-9a-fA-F]+")
SHARE_LINES_CHECKED = 50  # a stream repeats its submits: the first few tell the dialect

# Methods a miner sends that nothing else sends.
MINER_METHODS = frozenset({
    "mining.subscribe", "mining.authorize", "mining.submit", "mining.configure",
    "mining.extranonce.subscribe", "mining.suggest_difficulty", "mining.get_transactions",
    "eth_submitlogin", "eth_getwork", "eth_submitwork", "eth_submithashrate",
    "getwork", "getblocktemplate", "submitblock", "keepalived", "getjob",
})
# Methods a pool pushes.
POOL_METHODS = frozenset({
    "mining.notify", "mining.set_difficulty", "mining.set_target", "mining.set_extranonce",
    "mining.set_version_mask", "client.reconnect",
})
# Generic names that are mining only with context (login params, a job reply).
AMBIGUOUS_METHODS = frozenset({"login", "submit", "job"})
# Which side sends a method: requests come from the client, pushes from the pool.
CLIENT_METHODS = MINER_METHODS | {"login", "submit"}
SERVER_METHODS = POOL_METHODS | {"job"}


def _hex(value: Any, digits: int | None = None, *, prefixed: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    if prefixed:
        if not value.startswith("0x"):
            return False
        value = value[2:]
    return bool(HEX.fullmatch(value)) and (digits is None or len(value) == digits)


def share_dialect(message: dict[str, Any]) -> str:
    """The dialect whose share submission this request's method and parameters match, or ""."""
    method, params = message.get("method"), message.get("params")
    if method == "submit" and isinstance(params, dict):
        # CryptoNote (XMRig and its pools): a job, a 4-byte nonce, a 32-byte hash.
        job = params.get("job_id")
        if isinstance(job, str) and job and _hex(params.get("nonce"), 8) \
                and _hex(params.get("result"), 64):
            return "monero"
    if method == "mining.submit" and isinstance(params, list) and len(params) in (5, 6):
        # Bitcoin Stratum: worker, job, extranonce2, ntime, nonce[, version bits]; the
        # Equihash variant: worker, job, ntime, nonce2, solution.
        worker, job, *rest = params
        if isinstance(worker, str) and worker and isinstance(job, str) and job \
                and all(_hex(x) for x in rest):
            return "stratum"
    if method == "eth_submitWork" and isinstance(params, list) and len(params) == 3:
        nonce, header, mix = params
        if _hex(nonce, 16, prefixed=True) and _hex(header, 64, prefixed=True) \
                and _hex(mix, 64, prefixed=True):
            return "ethereum"
    return ""


@dataclass
class StreamEvidence:
    methods: list[str] = field(default_factory=list)
    reply: bool = False
    pool_job: bool = False
    agent: str = ""
    login_params: bool = False
    share: str = ""  # dialect of a share submission sent on this stream
    share_ack: bool = False  # a reply accepting a share sent on this stream

    def add(self, data: bytes) -> None:
        for m in METHOD.findall(data):
            name = m.decode("ascii", "replace")
            if name not in self.methods and len(self.methods) < 20:
                self.methods.append(name)
        if not self.reply and REPLY.search(data):
            self.reply = True
        if not self.pool_job and POOL_JOB.search(data):
            self.pool_job = True
        if not self.agent:
            a = AGENT.search(data)
            if a:
                self.agent = a.group(1).decode("utf-8", "replace")
        if not self.login_params and LOGIN_PARAMS.search(data):
            self.login_params = True
        if not self.share_ack and SHARE_ACK.search(data):
            self.share_ack = True
        if not self.share and SUBMIT_LINE.search(data):
            self.share = self._share_in(data)

    @staticmethod
    def _share_in(data: bytes) -> str:
        checked = 0
        for line in data.split(b"\n"):
            if not SUBMIT_LINE.search(line):
                continue
            checked += 1
            try:
                message = json.loads(line)
            except ValueError:
                message = None  # a message cut by the window or a capture gap
            if isinstance(message, dict) and (dialect := share_dialect(message)):
                return dialect
            if checked >= SHARE_LINES_CHECKED:
                break
        return ""

    def role(self) -> int:
        """Positive when this stream is a client's, negative when a server's, 0 unknown:
        the side that sends requests and shares is the client, the side that pushes jobs
        and answers requests is the server."""
        methods = {m.lower() for m in self.methods}
        client = bool(methods & CLIENT_METHODS) + self.login_params + bool(self.share)
        server = (bool(methods & SERVER_METHODS) + self.pool_job + self.reply
                  + self.share_ack)
        return client - server


def client_stream(a: StreamEvidence, b: StreamEvidence) -> int | None:
    """0 if stream a is the client's, 1 if b is, None when the payload does not tell."""
    d = a.role() - b.role()
    return None if d == 0 else (0 if d > 0 else 1)


SHARE_TEXT = {"monero": "Monero share submissions (job_id, 8-hex nonce, 64-hex result)",
              "stratum": "Stratum share submissions (worker, job, extranonce2, ntime, nonce)",
              "ethereum": "eth_submitWork shares (nonce, header, mix digest)"}


def payload_score(methods_fwd: str | None, methods_rev: str | None, reply_rev: bool | None,
                  pool_job_rev: bool | None, login_agent: str | None, *,
                  share_fwd: str | None = None,
                  share_ack_rev: bool | None = None) -> tuple[float, str]:
    """Sub-score in [0, 1] and the evidence behind it, for one flow."""
    fwd = [m for m in (methods_fwd or "").split("|") if m]
    rev = [m for m in (methods_rev or "").split("|") if m]
    miner = [m for m in fwd if m.lower() in MINER_METHODS]
    pool = [m for m in rev if m.lower() in POOL_METHODS]
    if miner:
        return 1.0, "miner sends " + ", ".join(miner[:4])
    if pool:
        return 1.0, "pool pushes " + ", ".join(pool[:4])
    ambiguous = [m for m in fwd + rev if m.lower() in AMBIGUOUS_METHODS]
    if ambiguous and (pool_job_rev or login_agent):
        extra = f" (agent {login_agent})" if login_agent else ""
        return 1.0, "Monero-style " + ", ".join(ambiguous[:4]) + " with a mining job" + extra
    if share_fwd:
        # A share's shape is specific enough to convict alone (a short window may hold no
        # login and no job); the pool accepting it in the other direction confirms it.
        text = SHARE_TEXT.get(share_fwd, f"{share_fwd} share submissions")
        if share_ack_rev:
            return 1.0, text + ", accepted by the server"
        return 0.9, text
    if pool_job_rev:
        return 0.9, "pool-side job message (\"job\":{\"blob\"…)"
    if ambiguous and reply_rev:
        return 0.3, "JSON-RPC " + ", ".join(ambiguous[:3]) + " with replies"
    return 0.0, ""
