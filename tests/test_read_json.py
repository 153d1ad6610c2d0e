"""Issue 17: request bodies are read in one place (documents.read_json); what no front end
may pass on is refused there, naming the field: NaN and Infinity (they were read as absent),
NUL and unpaired surrogates (no store holds them, no answer encodes them), integers beyond
64 bits, nesting 1,000 deep (it exhausted the parser's stack: a 500)."""

from decimal import Decimal

import pytest

from gongji.documents import MAX_DEPTH, read_json
from gongji.errors import InputError

REFUSED = [
    (b'{"total": NaN}', "total", "NaN and Infinity are not numbers"),
    (b'{"visit": {"items": [{"quantity": -Infinity}]}}', "visit.items[0].quantity", "NaN"),
    (b'{"visit": {"total": Infinity}}', "visit.total", "NaN"),
    (b'{"member_id": "L\\u0000"}', "member_id", "contains a NUL character"),
    (b'{"input": {"data": ["\\ud800"]}}', "input.data[0]", "unpaired surrogate"),
    (b'{"insuplc_admdvs": "a\\udfff"}', "insuplc_admdvs", "unpaired surrogate"),
    (b'{"x\\u0000": 1}', "(body)", "a field's name contains a NUL character"),
    (b'{"visit": {"%s": 1}}' % (b"k" * 65), "visit", "a field's name over 64 characters"),
    (b'{"ipt_otp_no": 1000000000000000000000000000000}', "ipt_otp_no", "too large a number"),
    (b'{"n": -9223372036854775809}', "n", "too large a number"),
    (b"[" * 1000 + b"]" * 1000, "(body)", "nested deeper than 32"),
    (b'{"a":' * 1000 + b"1" + b"}" * 1000, "(body)", "nested deeper than 32"),
    (b'{"visit": ' + b"[" * 40 + b"]" * 40 + b"}", "visit[0][0]", "nested deeper than 32"),
    (b"{", "(body)", "not JSON"),
    (b"", "(body)", "not JSON"),
    (b"\xff\xfe\x00", "(body)", "not JSON"),
    (b"1" * 5000, "(body)", "not JSON"),  # more digits than Python reads as a number
]


@pytest.mark.parametrize(
    ("raw", "field", "reason"), REFUSED, ids=[r[1] + r[2][:12] for r in REFUSED]
)
def test_a_body_no_store_can_hold_is_refused_by_field(raw, field, reason):
    with pytest.raises(InputError) as err:
        read_json(raw)
    assert err.value.field == field and reason in err.value.reason


def test_what_a_client_may_send_reads_exactly():
    deep = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    document = read_json(
        b'{"total": 250.10, "big": 1e400, "n": 9223372036854775807,'
        b' "name": "\\ud83d\\ude00 \xe7\x8e\x8b", "deep": ' + deep + b"}"
    )
    assert document["total"] == Decimal("250.10") and type(document["total"]) is Decimal
    assert document["big"] == Decimal("1e400")  # read; an amount refuses it by name
    assert document["n"] == 2**63 - 1
    assert document["name"] == "😀 王"
