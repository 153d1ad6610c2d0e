"""The Parquet files of the analysis tools: what `gongji generate` writes and `gongji replay`
reads and writes. Names follow the glossary; amounts are integer fen; times are local.

members.parquet — one row per member, as `engine.Member` holds it (plus descriptive columns
the rules do not read: age, sex, contribution base):
    member_id            int64, unique
    type                 string: employee | retiree | flexible | single_pool
    age, sex             int16, string ("F"/"M")          descriptive
    contribution_base    int64 fen a month                descriptive
    has_account          bool (null or left out: by type, the pack's without_account)
    retired_from         date32, null: the day retiree benefits take effect (X-2)
    contribution_raised  bool
    account_balance      int64 fen: the balance on 1 January
    chronic_diseases     list<string>: recognised chronic/special disease codes
    benefit_periods      list<struct<start: date32, end: date32>>, null = entitled throughout
    inpatient_stays      list<struct<start, end>>
    arrears              list<struct<start, end>>
    remote_filings       list<struct<start, end>>

visits.parquet — one row per visit, sorted by (member_id, time), as `engine.Visit` holds it;
every column but those marked "null" is required (declared not nullable: a reader then has no
null markers to decode, though a file that declares them nullable is read too, and refused
only where a value is missing):
    visit_id             int64, unique (or text: a HIS's "V1"; results.parquet keeps it)
    member_id            int64
    time                 timestamp[s], local time
    institution          string
    level                string: primary | level1 | level2 | level3 | pharmacy
    category             string: general | chronic | special | two_diseases | emergency |
                         negotiated_drug | day_surgery
    disease              string, null
    drug                 string, null
    total, in_scope      int64 fen
    remote, designated, manual, third_party, internet, use_account    bool
    prescription_level   string, null (a pharmacy sale's prescribing institution's level)

The replay also reads both files as CSV, amounts in yuan (`total`, `in_scope` as text) or fen
(`total_fen`, `in_scope_fen`), and member ids as text in both: inputs.py says how.

results.parquet — one row per visit, in the visits file's order (see replay.py); its
member_id as the files give it (int64, or text).
"""

import pyarrow as pa

from gongji.engine.facts import PERIOD_FACTS

PERIOD = pa.list_(pa.struct([("start", pa.date32()), ("end", pa.date32())]))
PERIOD_COLUMNS = tuple(name for name, _ in PERIOD_FACTS)
DESCRIPTIVE = ("age", "sex", "contribution_base")  # members' columns the rules do not read

MEMBERS = pa.schema(
    [
        ("member_id", pa.int64()),
        ("type", pa.string()),
        ("age", pa.int16()),
        ("sex", pa.string()),
        ("contribution_base", pa.int64()),
        ("has_account", pa.bool_()),
        ("retired_from", pa.date32()),
        ("contribution_raised", pa.bool_()),
        ("account_balance", pa.int64()),
        ("chronic_diseases", pa.list_(pa.string())),
        *((name, PERIOD) for name in PERIOD_COLUMNS),
    ]
)

VISIT_FLAGS = ("remote", "designated", "manual", "third_party", "internet", "use_account")

OPTIONAL = ("disease", "drug", "prescription_level")  # the visits' columns that may be null
VISITS = pa.schema(
    [
        pa.field(name, kind, nullable=name in OPTIONAL)
        for name, kind in (
            ("visit_id", pa.int64()),
            ("member_id", pa.int64()),
            ("time", pa.timestamp("s")),
            ("institution", pa.string()),
            ("level", pa.string()),
            ("category", pa.string()),
            ("disease", pa.string()),
            ("drug", pa.string()),
            ("total", pa.int64()),
            ("in_scope", pa.int64()),
            *((name, pa.bool_()) for name in VISIT_FLAGS),
            ("prescription_level", pa.string()),
        )
    ]
)
