"""A writer for the crash test: settles a fixed stream of visits, printing each txn id done.

python settle_stream.py DATABASE_URL START COUNT
"""

import sys

from gongji.ledger import store
from gongji.ledger.settlement import settle


def stream_visit(i: int) -> tuple[str, str, dict]:
    """The i-th transaction of the stream: 4 members, visits an hour apart."""
    member = f"M{i % 4}"
    hour = i // 4
    return (
        f"S{i}",
        member,
        {
            "id": f"S{i}",
            "time": f"2023-03-{1 + hour // 24:02d}T{hour % 24:02d}:00:00",
            "institution": f"H{i % 3}",
            "level": "level2",
            "total": f"{50 + i % 7 * 10}.00",
        },
    )


def same_member_burst(url: str, worker: int, count: int) -> None:
    """`count` same-time level-1 visits for member M0, as one of several racing processes."""
    db = store.connect(url)
    for j in range(count):
        txn = f"P{worker}-{j}"
        settle(
            db,
            txn,
            "M0",
            {
                "id": txn,
                "time": "2023-03-10T09:00:00",
                "institution": "C1",
                "level": "level1",
                "total": "100.00",
            },
        )


if __name__ == "__main__":
    if sys.argv[1] == "burst":
        same_member_burst(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    url, start, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    db = store.connect(url)
    for i in range(start, start + count):
        txn, member, visit = stream_visit(i)
        settle(db, txn, member, visit)
        print(txn, flush=True)
