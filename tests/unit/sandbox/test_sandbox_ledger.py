from __future__ import annotations

from ccx.sandbox.ledger import Ledger, LedgerEntry


def entry(
    seq: int, to: str = "14085551234", body: str = "hi", opaque: str | None = None
) -> LedgerEntry:
    return LedgerEntry(
        seq=seq,
        wamid=f"wamid.{seq}",
        to=to,
        wa_id=to.lstrip("+"),
        phone_number_id="111" if seq % 2 else "222",
        type="text",
        body=body,
        template=None,
        biz_opaque_callback_data=opaque,
        at=float(seq),
    )


def test_counts() -> None:
    ledger = Ledger()
    for i in range(1, 6):
        ledger.record(entry(i, to=f"1408555000{i}"))
    summary = ledger.summary()
    assert summary["count"] == 5
    assert summary["by_phone_number_id"] == {"111": 3, "222": 2}
    assert summary["by_type"] == {"text": 5}
    assert summary["duplicate_count"] == {"biz_opaque_callback_data": 0, "to_body": 0}


def test_duplicates_by_callback_data_and_by_to_body() -> None:
    ledger = Ledger()
    ledger.record(entry(1, opaque="m1.1", body="a"))
    ledger.record(entry(2, opaque="m1.1", body="b"))
    ledger.record(entry(3, opaque="m1.1", body="c"))
    ledger.record(entry(4, opaque="m2.1", body="same"))
    ledger.record(entry(5, opaque="m3.1", body="same"))
    ledger.record(entry(6, to="+15550000000", opaque="m4.1", body="same"))
    dups = ledger.duplicates()
    assert dups["biz_opaque_callback_data"] == [
        {
            "biz_opaque_callback_data": "m1.1",
            "count": 3,
            "wamids": ["wamid.1", "wamid.2", "wamid.3"],
        }
    ]
    assert dups["to_body"] == [
        {
            "to": "14085551234",
            "template": None,
            "body": "same",
            "count": 2,
            "wamids": ["wamid.4", "wamid.5"],
        }
    ]
    assert ledger.summary()["duplicate_count"] == {"biz_opaque_callback_data": 2, "to_body": 1}


def test_filters_and_cap() -> None:
    ledger = Ledger(max_entries=3)
    for i in range(1, 6):
        ledger.record(entry(i, opaque=f"m{i}"))
    assert ledger.count == 5
    assert [e.seq for e in ledger.entries()] == [3, 4, 5]
    assert [e.seq for e in ledger.entries(phone_number_id="111")] == [3, 5]
    assert [e.seq for e in ledger.entries(after_seq=4)] == [5]
    assert [e.seq for e in ledger.entries(biz_opaque_callback_data="m4")] == [4]
    assert [e.seq for e in ledger.entries(to="+1 408 555 1234", wamid="wamid.5")] == [5]
    # the cap drops entries, never counts or duplicate groups
    assert ledger.summary()["duplicate_count"]["to_body"] == 4


def test_counts_only_mode_and_reset() -> None:
    ledger = Ledger(max_entries=0)
    ledger.record(entry(1))
    ledger.record(LedgerEntry(**{**entry(2).to_json(), "answered": False}))
    assert ledger.count == 2
    assert ledger.unanswered == 1
    assert list(ledger.entries()) == []
    ledger.reset()
    assert ledger.summary()["count"] == 0
