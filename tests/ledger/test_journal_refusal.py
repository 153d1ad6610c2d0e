"""An unbalanced entry is refused naming its kind, its transaction and its legs."""

import pytest

from gongji.ledger.journal import LedgerError, post


def test_the_refusal_names_the_entry(db):
    moves = [("account:P1", -100), ("institution:H1", 99), ("cash:P1", 0)]
    with db.begin() as conn, pytest.raises(LedgerError) as err:
        post(conn, "cancel", "T9", moves)
    assert str(err.value) == (
        "unbalanced entry cancel T9: [('account:P1', -100), ('institution:H1', 99)]"
    )
