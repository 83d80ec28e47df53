from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from qingling.detect.network.config import NetworkConfig
from qingling.detect.network.names import PoolList


def pools(tmp_path: Path) -> PoolList:
    f = tmp_path / "pools.csv"
    f.write_text("name,kind,source,weight,as_of\n"
                 "nanopool.org,domain,current,1.0,2026-07-01\n"
                 "oldpool.net,domain,stale,1.0,2018-06-01\n"
                 "203.0.113.7,ip,stale,1.0,2018-06-01\n")
    return PoolList.load(f, today=date(2026, 11, 26))


def test_a_subdomain_of_a_pool_matches(tmp_path: Path) -> None:
    hit = pools(tmp_path).match_name("xmr-eu1.nanopool.org")
    assert hit is not None and hit.score > 0.8 and "known pool" in hit.evidence


def test_old_entries_decay(tmp_path: Path) -> None:
    p = pools(tmp_path)
    old, ip = p.match_name("eu.oldpool.net"), p.match_ip("203.0.113.7")
    assert old is not None and ip is not None
    assert old.score < 0.1 and ip.score < 0.1


def test_keywords_are_weak_and_other_names_are_nothing(tmp_path: Path) -> None:
    p = pools(tmp_path)
    weak = p.match_name("xmr.somehost.example")
    assert weak is not None and weak.score == 0.3
    assert p.match_name("www.taobao.com") is None


def test_the_shipped_list_keeps_pools_and_drops_exchanges() -> None:
    p = PoolList.load()
    assert p.match_name("eth-eu1.nanopool.org") is not None
    hit = p.match_name("api.binance.com")
    assert hit is None or hit.score <= 0.3


def test_weights_are_validated() -> None:
    with pytest.raises(ValueError, match="w_behaviour must stay below mining_at"):
        NetworkConfig(w_behaviour=0.9)
    with pytest.raises(ValueError, match="within"):
        NetworkConfig(w_names=1.5)
