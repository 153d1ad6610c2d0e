"""Rows of the analysis files as the engine's Member and Visit: the tests' own reading,
independent of the replay's, so a mistake there is caught by comparing the two."""

from gongji import engine
from gongji.terms import Category, Level, MemberType


def to_member(row: dict) -> engine.Member:
    def periods(name):
        return tuple(engine.Period(p["start"], p["end"]) for p in row[name] or ())

    return engine.Member(
        type=MemberType(row["type"]),
        has_account=row["has_account"],
        retired_from=row["retired_from"],
        contribution_raised=row["contribution_raised"],
        benefit_periods=None if row["benefit_periods"] is None else periods("benefit_periods"),
        inpatient_stays=periods("inpatient_stays"),
        arrears=periods("arrears"),
        remote_filings=periods("remote_filings"),
        chronic_diseases=tuple(row["chronic_diseases"]),
    )


def to_visit(v: dict) -> engine.Visit:
    return engine.Visit(
        time=v["time"],
        institution=v["institution"],
        level=Level(v["level"]),
        total=v["total"],
        in_scope=v["in_scope"],
        category=Category(v["category"]),
        remote=v["remote"],
        designated=v["designated"],
        manual=v["manual"],
        third_party=v["third_party"],
        disease=v["disease"],
        drug=v["drug"],
        internet=v["internet"],
        prescription_level=Level(v["prescription_level"]) if v["prescription_level"] else None,
        use_account=v["use_account"],
    )
