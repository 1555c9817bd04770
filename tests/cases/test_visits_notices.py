"""Visits (check-in by plate, plausibility flags) and notices."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chipkit.cases import BadInput, ChipRefused, InvalidTransition, NotFound, WrongActor, parse_gps
from chipkit.cases.models import visits


def test_plain_checkin(svc, tokens):
    v = svc.checkin("W1", tokens["H-0001"], gps="29.1000,119.7000,8")
    assert v["household_id"] == "H-0001" and v["flags"] == [] and v["accuracy"] == 8


def test_gps_far_from_the_household(svc, tokens):
    v = svc.checkin("W1", tokens["H-0001"], gps="29.1100,119.7000,10")  # ~1.1 km north
    assert "gps_far" in v["flags"]
    v = svc.checkin("W1", tokens["H-0001"], gps="29.1100,119.7000,2000", photo=b"x")  # poor fix
    assert "gps_far" not in v["flags"]


def test_impossible_travel(svc, tokens, clock):
    svc.checkin("W2", tokens["H-0006"])
    clock.advance(30)
    far = svc.checkin("W2", tokens["H-0008"])  # ~100 m in 30 s: plausible on foot? 3.7 m/s: yes
    assert "impossible_travel" not in far["flags"]
    svc.checkin("W1", tokens["H-0001"])
    clock.advance(60)
    # H-0001 -> H-0009 is ~14 km: 60 s would need 230 m/s
    v = svc.checkin("W1", tokens["H-0009"])
    assert "impossible_travel" in v["flags"] and "not_linked" in v["flags"]


def test_impossible_travel_without_coordinates(svc, tokens, clock):
    svc.checkin("W2", tokens["H-0006"])
    clock.advance(5)
    v = svc.checkin("W2", tokens["H-0007"])  # H-0007 has no recorded location, no GPS
    assert "impossible_travel" in v["flags"]


def test_duplicate_photo_and_burst(svc, tokens, clock):
    photo = b"\xff\xd8 a jpeg of a door"
    assert "duplicate_photo" not in svc.checkin("W1", tokens["H-0001"], photo=photo)["flags"]
    clock.advance(600)
    assert "duplicate_photo" in svc.checkin("W1", tokens["H-0002"], photo=photo)["flags"]
    flags = []
    for i in range(6):
        clock.advance(60)
        flags.append(svc.checkin("W1", tokens[f"H-000{1 + i % 5}"], photo=bytes([i]))["flags"])
    assert "burst" not in flags[0] and "burst" in flags[-1]
    assert len(svc.list_visits(worker_id="W1", flagged=True)) >= 2


@pytest.mark.parametrize(
    "gps",
    ["abc", "29.1", "29.1,119.7,10,5", "91,119.7", "29.1,181", "29.1,119.7,-3", "nan,1", "1,inf"],
)
def test_malformed_gps_changes_nothing(svc, tokens, gps):
    with pytest.raises(BadInput, match="GPS"):
        svc.checkin("W1", tokens["H-0001"], gps=gps)
    with svc.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(visits)).scalar() == 0


def test_parse_gps():
    assert parse_gps("29.1, 119.7") == (29.1, 119.7, None)
    assert parse_gps((1, 2, 3)) == (1.0, 2.0, 3.0)


def test_checkin_refuses_bad_chips_and_unknown_workers(svc, tokens):
    with pytest.raises(ChipRefused):
        svc.checkin("W1", tokens["H-0001"][:-3] + "AAA")
    with pytest.raises(NotFound):
        svc.checkin("W404", tokens["H-0001"])


def test_notices_seen_after_scanning(svc, tokens, clock):
    v = svc.post_notice("330703101001", "停水通知", "周三 9:00-12:00 停水", "V1")
    t = svc.post_notice("330703101", "防汛", "注意防汛", "T1", expires_at=clock() + 3600)
    svc.post_notice("330703101002", "西村通知", "只给西村", "T1")
    seen = svc.notices_for(token=tokens["H-0002"])
    assert {n["id"] for n in seen["notices"]} == {t["id"], v["id"]}
    assert "西村通知" not in str(seen)
    assert "西村通知" in str(svc.notices_for(token=tokens["H-0009"]))
    clock.advance(3601)
    assert [n["id"] for n in svc.notices_for(household_id="H-0002")["notices"]] == [v["id"]]
    svc.withdraw_notice(v["id"], "V1")
    assert svc.notices_for(household_id="H-0002")["notices"] == []
    with pytest.raises(InvalidTransition):
        svc.withdraw_notice(v["id"], "V1")


def test_notice_permissions_and_input(svc, tokens):
    with pytest.raises(WrongActor):
        svc.post_notice("330703101", "x", "y", "V1")  # a village officer cannot post for the town
    with pytest.raises(WrongActor):
        svc.post_notice("330703101002", "x", "y", "W1")  # grid worker of another village
    assert svc.post_notice("330703101001", "x", "y", "W1")["posted_by"] == "W1"
    with pytest.raises(BadInput, match="village or a town"):
        svc.post_notice("330703", "x", "y", "D1")
    with pytest.raises(NotFound):
        svc.post_notice("999999999999", "x", "y", "D1")
    with pytest.raises(BadInput, match="limit"):
        svc.post_notice("330703101001", "x", "y" * 5000, "V1")
    with pytest.raises(ChipRefused):
        svc.notices_for(token="CK1:garbage")


def test_checkin_from_a_photo_of_the_plate(svc, tokens, tmp_path, clock):
    import segno

    p = tmp_path / "door.png"
    segno.make(tokens["H-0003"], error="q").save(p, scale=4, border=4)
    v = svc.checkin_photo("W1", p, gps="29.101,119.7,5")
    assert v["household_id"] == "H-0003" and v["flags"] == []
    clock.advance(3600)
    again = svc.checkin_photo("W1", p)
    assert "duplicate_photo" in again["flags"]
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("L", (64, 64), 255).save(blank)
    with pytest.raises(ChipRefused, match="no chip"):
        svc.checkin_photo("W1", blank)


def test_cli_checkin_image(tmp_path, keyring, tokens, make_register):
    import segno
    from click.testing import CliRunner

    from chipkit_cli.main import cli

    db = str(tmp_path / "c.sqlite")
    r = CliRunner()
    assert (
        r.invoke(
            cli, ["cases", "import", str(make_register(tmp_path / "r.csv")), "--db", db]
        ).exit_code
        == 0
    )
    p = tmp_path / "door.png"
    segno.make(tokens["H-0002"], error="q").save(p, scale=4, border=4)
    res = r.invoke(
        cli,
        ["visits", "checkin", str(p), "--worker", "W1", "--keys", str(keyring.path), "--db", db],
    )
    assert res.exit_code == 0 and "at H-0002" in res.output, res.output
