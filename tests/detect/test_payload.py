from __future__ import annotations

import pytest

from qingling.detect.network.payload import StreamEvidence, payload_score
from qingling.detect.readers.pcap import _Dir, http_host_of


def evidence(data: bytes) -> StreamEvidence:
    ev = StreamEvidence()
    ev.add(data)
    return ev


@pytest.mark.parametrize("line", [
    b'{"id": 1, "method": "mining.subscribe", "params": []}\n',
    b'{"id":1,"method":"mining.subscribe","params":[]}\n',
    b'{"params":["w","x"],"id":2,"method":  "mining.authorize"}\n',
])
def test_compact_and_spaced_json_are_both_read(line: bytes) -> None:
    ev = evidence(line)
    assert payload_score("|".join(ev.methods), None, False, False, None)[0] == 1.0


def test_a_message_split_across_segments_is_read_after_reassembly() -> None:
    d = _Dir()
    msg = b'{"id":4,"method":"mining.submit","params":["w","1","2","3","4"]}\n'
    # Out of order, with a retransmitted overlap.
    d.add_segment(1000 + 20, msg[20:])
    d.add_segment(1000, msg[:25])
    assert evidence(d.stream()).methods == ["mining.submit"]


def test_a_gap_never_glues_two_halves_into_a_method() -> None:
    d = _Dir()
    d.add_segment(0, b'{"method":"mini')
    d.add_segment(500, b'ng.submit"}')
    assert evidence(d.stream()).methods == []


def test_monero_login_counts_only_with_a_mining_job_or_agent() -> None:
    assert payload_score("login|submit", None, True, False, None)[0] < 0.5
    assert payload_score("login|submit", "job", True, True, None)[0] == 1.0
    score, text = payload_score("login", None, True, False, "XMRig/6.21.0")
    assert score == 1.0 and "XMRig" in text


def test_pool_pushes_alone_are_mining_and_plain_json_rpc_is_not() -> None:
    assert payload_score(None, "mining.notify|mining.set_difficulty", False, False, None)[0] == 1
    assert payload_score("echo|zabbix.status", None, True, False, None) == (0.0, "")
    assert payload_score("eth_blockNumber|eth_getBalance", None, True, False, None)[0] == 0.0


def test_getwork_over_http_names_its_host() -> None:
    req = b"POST / HTTP/1.1\r\nHost: pool.example.org:8080\r\n\r\n{\"method\":\"eth_getWork\"}"
    assert http_host_of(req) == "pool.example.org"
    assert evidence(req).methods == ["eth_getWork"]
