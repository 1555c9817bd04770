"""Fixtures for the cases tests: a small district, a keyring, a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from chipkit.cases import CaseService
from chipkit.keys import Keyring

V1 = "330703101001"
V2 = "330703101002"
TOWN = "330703101"
DISTRICT = "330703"
T0 = 1_790_000_000  # a fixed "now" for tests

REGISTER = f"""household_id,village_code,village_name,town,district,grid,worker_id,worker_name,address,lat,lon
H-0001,{V1},东村,孝顺镇,金东区,G1,W1,张三,1号,29.100000,119.700000
H-0002,{V1},东村,孝顺镇,金东区,G1,W1,张三,2号,29.100500,119.700000
H-0003,{V1},东村,孝顺镇,金东区,G1,W1,张三,3号,29.101000,119.700000
H-0004,{V1},东村,孝顺镇,金东区,G1,W1,张三,4号,29.101500,119.700000
H-0005,{V1},东村,孝顺镇,金东区,G1,W1,张三,5号,29.102000,119.700000
H-0006,{V1},东村,孝顺镇,金东区,G2,W2,李四,6号,29.110000,119.710000
H-0007,{V1},东村,孝顺镇,金东区,G2,W2,李四,7号,,
H-0008,{V1},东村,孝顺镇,金东区,G2,W2,李四,8号,29.111000,119.710000
H-0009,{V2},西村,孝顺镇,金东区,G3,W3,王五,9号,29.200000,119.800000
H-0010,{V2},西村,孝顺镇,金东区,G3,W3,王五,10号,29.200500,119.800000
,,,,,,V1,村干部,,,
,,,,,,T1,镇干部,,,
,,,,,,D1,区干部,,,
"""
# staff rows need role + unit: add them as extra columns
STAFF = {"V1": ("village", V1), "T1": ("town", TOWN), "D1": ("district", DISTRICT)}


def register_csv(path: Path) -> Path:
    lines = REGISTER.strip().splitlines()
    out = [lines[0] + ",role,unit"]
    for line in lines[1:]:
        cells = line.split(",")
        if not cells[0]:
            role, unit = STAFF[cells[6]]
            out.append(line + f",{role},{unit}")
        else:
            out.append(line + ",,")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


class Clock:
    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, secs: int) -> None:
        self.t += secs


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    return Keyring.init(tmp_path_factory.mktemp("keys") / "kr", passphrase=None)


@pytest.fixture(scope="session")
def tokens(keyring: Keyring) -> dict[str, str]:
    out = {}
    for i in range(1, 11):
        hid = f"H-{i:04d}"
        out[hid] = keyring.seal(hid, V1 if i <= 8 else V2)[0]
    return out


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def svc(tmp_path: Path, keyring: Keyring, clock: Clock) -> CaseService:
    s = CaseService(
        tmp_path / "cases.sqlite", verifier=keyring.verifier(), clock=clock, create=True
    )
    s.import_register(register_csv(tmp_path / "register.csv"))
    yield s
    s.db.dispose()


@pytest.fixture()
def make_register():
    """The register_csv helper, as a fixture (test modules cannot import conftest reliably)."""
    return register_csv


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_svc(request, tmp_path: Path, keyring: Keyring, clock: Clock) -> CaseService:
    """The small district on SQLite and (when a test server is configured) on PostgreSQL."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_db_url")
    else:
        url = str(tmp_path / "backend.sqlite")
    s = CaseService(url, verifier=keyring.verifier(), clock=clock, create=True)
    s.import_register(register_csv(tmp_path / "register.csv"))
    yield s
    s.db.dispose()
