"""Rules whose shipped values cannot show a difference, tried with other values a bureau may
configure: a pension credit with fen not rounded (NY-8), a configured inpatient deductible
that leaves a level out and a share rounded half-up (XSBN-17), a line-item visit at an
internet hospital filled at a pharmacy in a pack with all three articles."""

from datetime import date, datetime

from gongji import engine, policy
from gongji.engine import accounts as rules
from gongji.engine import layout as L
from gongji.policy.schema import Channels, Reading
from gongji.terms import Category, Level, MemberType

EMPLOYEE = engine.Member(type=MemberType.employee, has_account=True)


def with_version(pack, **changes):
    version = pack.versions[0].model_copy(update=changes)
    return pack.model_copy(update={"versions": [version, *pack.versions[1:]]})


def test_a_pension_credit_is_kept_to_the_fen_where_the_pack_does_not_round():
    """NY-8: 2% of the average pension, no rounding to yuan (PZH-4a rounds, NY does not):
    2% of 2812.34 is 56.2468, half-up to the fen 56.25."""
    crediting = policy.load_region("nanyang").versions[0].crediting
    credit = rules.credit_for(crediting, MemberType.retiree)
    assert not credit.round_to_yuan
    assert rules.monthly_credit(credit.model_copy(update={"average_pension": 281_234}), None) == (
        5_625
    )


def xsbn_day_surgery(deductible: dict, share: int | None = None):
    pack = policy.load_region("xishuangbanna")
    version = pack.versions[0]
    inpatient = version.inpatient.model_copy(update={"deductible": deductible})
    surgery = version.day_surgery
    if share is not None:
        ded = surgery.deductible
        ref = ded.from_inpatient.model_copy(update={"share": share})
        surgery = surgery.model_copy(
            update={"deductible": ded.model_copy(update={"from_inpatient": ref})}
        )
    other = with_version(pack, inpatient=inpatient, day_surgery=surgery)
    return engine.tables_on(other, date(2023, 3, 1))


def surgery(tables, level: Level, total: int):
    v = engine.Visit(
        datetime(2023, 3, 1, 9), "H2", level, total, total, category=Category.day_surgery
    )
    result, _ = engine.settle(tables, EMPLOYEE, engine.YearState.new(), v)
    return result


def test_a_level_the_inpatient_deductibles_leave_out_has_none():
    """XSBN-17: half the institution's inpatient deductible; a level without one (the
    configured table leaves primary out) has no deductible: 90% of 100 is 90."""
    tables = xsbn_day_surgery({Level.level1: 20_000, Level.level2: 50_000, Level.level3: 80_000})
    result = surgery(tables, Level.primary, 10_000)
    assert (result.deductible, result.fund_pay) == (0, 9_000)


def test_a_share_of_the_inpatient_deductible_rounds_half_up_to_the_fen():
    """A third (33.33%) of a 50.03 deductible is 16.674999: 16.67, not 16.68."""
    level2 = {
        Level.primary: 20_000,
        Level.level1: 20_000,
        Level.level2: 5_003,
        Level.level3: 80_000,
    }
    result = surgery(xsbn_day_surgery(level2, share=3_333), Level.level2, 10_000)
    assert result.deductible == 1_667


def test_the_records_made_before_the_kernel_are_all_kept():
    """NY-19's out-of-scope part, then the internet hospital's physical level, then the
    prescriber's level (a pack with the three articles: Nanyang's with Kaifeng's channels)."""
    kaifeng = policy.load_region("kaifeng").versions[-1].channels
    nanyang = policy.load_region("nanyang")
    both = Channels(internet=kaifeng.internet, prescription=kaifeng.prescription)
    catalogue = nanyang.versions[0].catalogue
    class_b = catalogue.model_copy(update={"class_b_self_pay": catalogue.payment_standard})
    other = with_version(nanyang, channels=both, catalogue=class_b)
    tables = engine.tables_on(other, date(2023, 3, 1))
    visit = engine.Visit(
        datetime(2023, 3, 1, 9),
        "P1",
        Level.pharmacy,
        12_000,
        10_000,
        internet=True,
        prescription_level=Level.level2,
        out_of_scope=1_500,
        class_b_self_pay=500,
    )
    result, _ = engine.settle(tables, EMPLOYEE, engine.YearState.new(), visit)
    first = [tuple(result.trace[i : i + 4]) for i in range(0, 16, 4)]
    pharmacy, level2 = L.LEVELS.index(Level.pharmacy), L.LEVELS.index(Level.level2)
    assert first == [
        (L.T_OUT_OF_SCOPE, 1_500, 0, 0),
        (L.T_CLASS_B, 500, 0, 0),
        (L.T_INTERNET, 0, pharmacy, 0),
        (L.T_PRESCRIPTION, 0, pharmacy, level2),
    ]


def xsbn_chronic(cap_max: int):
    pack = policy.load_region("xishuangbanna")
    chronic = pack.versions[0].chronic
    cap = chronic.annual_cap.model_copy(update={"max": cap_max})
    other = with_version(pack, chronic=chronic.model_copy(update={"annual_cap": cap}))
    return engine.tables_on(other, date(2023, 3, 1))


def chronic_fund(tables, diseases: tuple[str, ...], total: int) -> int:
    member = engine.Member(type=MemberType.employee, has_account=True, chronic_diseases=diseases)
    v = engine.Visit(
        datetime(2023, 3, 1, 9),
        "H2",
        Level.level2,
        total,
        total,
        category=Category.chronic,
        disease=diseases[0],
    )
    return engine.settle(tables, member, engine.YearState.new(), v)[0].fund_pay


def test_the_grown_cap_stops_at_its_ceiling_even_of_nothing():
    """XSBN-12: 2000 for one disease, 1000 more for each further one, up to the ceiling —
    here configured as 0: with two diseases the cap is 0 (deductible 300, 80% of 1000 cut)."""
    assert chronic_fund(xsbn_chronic(0), ("d1", "d2"), 130_000) == 0


def test_one_disease_has_the_base_cap_whatever_the_ceiling():
    """XSBN-12: the cap grows from the second disease on; with one it is 2000, even under a
    ceiling configured lower (1500). Deductible 300, 80% of 2700 = 2160, cut to 2000."""
    assert chronic_fund(xsbn_chronic(150_000), ("d1",), 300_000) == 200_000


def test_a_monthly_cap_of_nothing_pays_nothing():
    """KF-9b's monthly cap configured as 0 (a cap, not its absence: -1 marks none)."""
    pack = policy.load_region("kaifeng")
    version = pack.versions[-1]
    general = version.general
    monthly = general.monthly_cap.model_copy(update={"employee": 0})
    other = pack.model_copy(
        update={
            "versions": [
                *pack.versions[:-1],
                version.model_copy(
                    update={"general": general.model_copy(update={"monthly_cap": monthly})}
                ),
            ]
        }
    )
    tables = engine.tables_on(other, date(2023, 3, 1))
    v = engine.Visit(datetime(2023, 3, 1, 9), "H1", Level.level3, 10_000, 10_000)
    result, _ = engine.settle(tables, EMPLOYEE, engine.YearState.new(), v)
    assert (result.deductible, result.fund_pay) == (5_000, 0)


def test_a_pack_is_compiled_once():
    pack = policy.load_region("kaifeng")
    assert engine.compile_pack(pack) is engine.compile_pack(pack)
    assert engine.tables_on(pack, date(2023, 3, 1)) is engine.compile_pack(pack)[-1]


def test_the_special_deductible_is_met_in_its_own_pool():
    """XSBN-13/14: special diseases' annual deductible is counted on its own (分别计算起付标准),
    though their cap is the inpatient one."""
    tables = engine.tables_on(policy.load_region("xishuangbanna"), date(2023, 3, 1))
    member = engine.Member(type=MemberType.employee, has_account=True, chronic_diseases=("d1",))
    v = engine.Visit(
        datetime(2023, 3, 1, 9), "H2", Level.level2, 100_000, 100_000, category=Category.special
    )
    result, state = engine.settle(tables, member, engine.YearState.new(), v)
    assert result.deductible > 0
    assert state.pool("special").deductible_met == result.deductible
    assert state.pool("inpatient").deductible_met == 0
    assert state.pool("inpatient").annual == result.fund_pay


def test_each_citation_carries_its_articles_words():
    """The overflow line (XSBN-11) and the special exception line (XSBN-13) are made by the
    compiler from one node each: their citations carry that node's article and words."""
    version = policy.load_region("xishuangbanna").versions[0]
    tables = engine.tables_on(policy.load_region("xishuangbanna"), date(2023, 3, 1))
    overflow = version.general.overflow
    exceptions = version.special.exceptions
    for line, node in (("general_overflow", overflow), ("special_exception", exceptions)):
        for step in (L.T_DED_NONE, L.T_RATIO):
            cite = tables.cites[L.line_index(line)][0][step]
            assert (cite.rule, cite.article, cite.text) == (node.rule, node.article, node.text)


def test_a_configured_overflow_is_cited_as_configured():
    """A node's `source: configured` reaches every step of the line made from it."""
    pack = policy.load_region("xishuangbanna")
    general = pack.versions[0].general
    overflow = general.overflow.model_copy(update={"source": "configured"})
    other = with_version(pack, general=general.model_copy(update={"overflow": overflow}))
    tables = engine.tables_on(other, date(2023, 3, 1))
    line = L.line_index("general_overflow")
    assert tables.cites[line][0][L.T_DED_NONE].configured
    # and so does its reading: the trace gives it as the pack's reading (issue 19)
    assert tables.cites[line][0][L.T_RATIO].reading == overflow.reading
    shipped = engine.tables_on(pack, date(2023, 3, 1))
    assert not shipped.cites[line][0][L.T_DED_NONE].configured


def test_an_exemption_does_not_lift_the_conditions_after_it():
    """XSBN-29 exempts emergency rescue from designation and filing only: a condition the
    line enforces after them (here no third party liable, added to the pack) still holds."""
    from gongji.policy.schema import Eligibility

    pack = policy.load_region("xishuangbanna")
    emergency = pack.versions[0].emergency
    third = Eligibility(rule="XSBN-29", article="第二十九条", condition="no_third_party")
    other = with_version(
        pack,
        emergency=emergency.model_copy(update={"eligibility": [*emergency.eligibility, third]}),
    )
    tables = engine.tables_on(other, date(2023, 3, 1))
    v = engine.Visit(
        datetime(2023, 3, 1, 9),
        "X1",
        Level.level1,
        100_000,
        100_000,
        category=Category.emergency,
        designated=False,
        third_party=True,
    )
    result, _ = engine.settle(tables, EMPLOYEE, engine.YearState.new(), v)
    assert result.fund_pay == 0


def test_records_before_the_kernel_need_no_trace_buffer():
    """An internet visit settled without a trace (the ledger's replay, benchmarks)."""
    tables = engine.tables_on(policy.load_region("kaifeng"), date(2023, 3, 1))
    v = engine.Visit(datetime(2023, 3, 1, 9), "I1", Level.level2, 10_000, 10_000, internet=True)
    result, _ = engine.settle(tables, EMPLOYEE, engine.YearState.new(), v, trace=False)
    assert result.trace == () and result.deductible == 4_000


def test_the_parameter_table_is_plain_integers():
    """What the kernel reads, and the replay loads into int64 arrays; undefined lines are
    off (L_ON 0), pass nothing on (-1), have no growth or monthly cap (-1)."""
    for region in policy.known_regions():
        for tables in engine.compile_pack(policy.load_region(region)):
            assert all(type(x) is int for x in tables.params), tables.version_id
            for i in range(L.N_LINES):
                base = i * L.LINE_SIZE
                on = tables.params[base + L.L_ON]
                assert on in (0, 1) and (on == 1 or i not in tables.entry.values())
                if not on:
                    assert tables.params[base + L.L_OVERFLOW] == -1
                    assert tables.params[base + L.L_CAP_MAX] == -1


def test_a_fixed_per_item_deductible():
    """A negotiated drug's yearly deductible given as an amount (not read from the inpatient
    table): 500 here; 80% (the level-3 inpatient ratio) of the 500 above it is 400."""
    pack = policy.load_region("xishuangbanna")
    drug = pack.versions[0].negotiated_drug
    fixed = drug.deductible.model_copy(update={"amount": 50_000, "from_inpatient": None})
    other = with_version(pack, negotiated_drug=drug.model_copy(update={"deductible": fixed}))
    tables = engine.tables_on(other, date(2023, 3, 1))
    v = engine.Visit(
        datetime(2023, 3, 1, 9),
        "H3",
        Level.level3,
        100_000,
        100_000,
        category=Category.negotiated_drug,
        drug="XA01",
    )
    result, _ = engine.settle(tables, EMPLOYEE, engine.YearState.new(), v)
    assert (result.deductible, result.fund_pay) == (50_000, 40_000)


def test_a_monthly_cap_shared_with_the_inpatient_cap_is_its_amount():
    pack = policy.load_region("xishuangbanna")
    general = pack.versions[0].general
    monthly = general.annual_cap.model_copy(update={"shared_with": "inpatient"})
    other = with_version(pack, general=general.model_copy(update={"monthly_cap": monthly}))
    tables = engine.tables_on(other, date(2023, 3, 1))
    base = L.line_index("general") * L.LINE_SIZE
    assert tables.params[base + L.L_MONTHLY_CAP + L.EMPLOYEE] == 15_000_000


def test_a_configured_exception_is_cited_as_configured():
    pack = policy.load_region("xishuangbanna")
    special = pack.versions[0].special
    reading = Reading(zh="本局自定的病种目录", en="the bureau's own list of diseases")
    exceptions = special.exceptions.model_copy(update={"source": "configured", "reading": reading})
    other = with_version(pack, special=special.model_copy(update={"exceptions": exceptions}))
    tables = engine.tables_on(other, date(2023, 3, 1))
    line = L.line_index("special_exception")
    assert tables.cites[line][0][L.T_RATIO].configured
    assert tables.cites[line][0][L.T_DED_NONE].configured
    assert tables.cites[line][0][L.T_RATIO].reading == reading


def test_a_per_item_deductible_read_at_the_visits_level():
    """A per-item deductible taken from the inpatient table at the visit's own level (the
    shipped XSBN-16 reads level 3's for every visit): 500 at level 2."""
    pack = policy.load_region("xishuangbanna")
    drug = pack.versions[0].negotiated_drug
    ref = drug.deductible.from_inpatient.model_copy(update={"level": None})
    ded = drug.deductible.model_copy(update={"from_inpatient": ref})
    other = with_version(pack, negotiated_drug=drug.model_copy(update={"deductible": ded}))
    tables = engine.tables_on(other, date(2023, 3, 1))
    v = engine.Visit(
        datetime(2023, 3, 1, 9),
        "H2",
        Level.level2,
        100_000,
        100_000,
        category=Category.negotiated_drug,
        drug="XA01",
    )
    result, _ = engine.settle(tables, EMPLOYEE, engine.YearState.new(), v)
    assert result.deductible == 50_000


def nanyang_year_end(closes: bool):
    """Nanyang's pack with its NY-5a year-end reading set (shipped: closes false)."""
    pack = policy.load_region("nanyang")
    general = pack.versions[0].general
    ded = general.deductible
    year_end = ded.year_end.model_copy(update={"closes": closes})
    deductible = ded.model_copy(update={"year_end": year_end})
    return with_version(pack, general=general.model_copy(update={"deductible": deductible}))


NEW_YEAR_VISITS = [  # level 3 at one hospital: deductible 50, then 50%
    engine.Visit(datetime(2023, 12, 31, 20), "H1", Level.level3, 10_000, 10_000),
    engine.Visit(datetime(2024, 1, 1, 10), "H1", Level.level3, 10_000, 10_000),
    engine.Visit(datetime(2024, 1, 1, 11), "H1", Level.level3, 10_000, 10_000),
]


def test_a_window_runs_into_the_new_year_unless_the_pack_closes_it_there():
    """NY-5a's year_end reading: shipped (closes false), the window V1 opened at 20:00 on 31
    December covers V2 and V3 in the next 24 hours; closed at the year's end, V2 pays a
    deductible of its own and opens a window that covers V3. Either way the 2024 cap starts
    afresh (X-1)."""
    for closes, deductibles in ((False, [5_000, 0, 0]), (True, [5_000, 5_000, 0])):
        pack = nanyang_year_end(closes)
        results, state = engine.settle_all(pack, EMPLOYEE, engine.YearState.new(), NEW_YEAR_VISITS)
        assert [r.deductible for r in results] == deductibles, closes
        assert state.pool("general").annual == sum(r.fund_pay for r in results[1:])
        tables = engine.tables_on(pack, date(2024, 1, 1))
        assert tables.params[L.L_DED_YEAR_END] == int(closes)


def test_the_compiled_kernel_closes_windows_at_the_year_end_as_python_does():
    import numpy as np

    from gongji.engine.facts import kernel_args
    from gongji.engine.jit import compiled_settle_visit, empty_trace
    from gongji.engine.kernel import settle_visit

    fast = compiled_settle_visit()
    for closes in (False, True):
        pack = nanyang_year_end(closes)
        py_state = list(engine.YearState.new().slots)
        jit_state = np.array(py_state, dtype=np.int64)
        for visit in NEW_YEAR_VISITS:
            tables = engine.tables_on(pack, visit.time.date())
            args = kernel_args(EMPLOYEE, visit)
            py_trace, jit_trace = [0] * L.TRACE_CAPACITY, empty_trace()
            want = settle_visit(tables.params, py_state, *args, L.GENERAL, True, py_trace)
            params = np.array(tables.params, dtype=np.int64)
            got = fast(params, jit_state, *args, L.GENERAL, True, jit_trace)
            assert tuple(got) == want and list(jit_state) == py_state
            assert list(jit_trace) == py_trace
