"""Every quotation of a rulebook is the rulebook's words, in the article it cites.

A `text:` in a policy pack or in the monitoring rules (supervision/monitoring.yaml) must be
found in the cited article of its region's seed file (shared/seeds, the region -> file map
in its README), ignoring whitespace (the seeds are extracted from PDFs: lines break
mid-sentence); an ellipsis "…" (or "……") marks words left out, so the fragments it splits a
quotation into are found in that order. Every article a pack or monitoring rule cites exists
in the seed. What a text does not say is a `reading`, never a `text`.
"""

import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

from gongji import policy
from gongji.policy.loader import PACKS_DIR
from gongji.supervision import monitoring

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
DIGITS = dict(zip("零一二三四五六七八九", range(10), strict=True))
ARTICLE = re.compile(r"^\s*(第[零一二三四五六七八九十百]+条)", re.M)
ELLIPSIS = re.compile(r"…+")


def chinese_number(words: str) -> int:
    """一 .. 九十九 (and 一百 ..): the numbers articles are numbered with."""
    total, digit = 0, 0
    for ch in words:
        if ch in DIGITS:
            digit = DIGITS[ch]
        elif ch == "十":
            total += (digit or 1) * 10
            digit = 0
        elif ch == "百":
            total += (digit or 1) * 100
            digit = 0
    return total + digit


def test_chinese_numbers():
    assert [chinese_number(w) for w in ("一", "十", "十二", "二十", "三十三", "四十三")] == [
        1,
        10,
        12,
        20,
        33,
        43,
    ]


def squeeze(text: str) -> str:
    return "".join(text.split())


def articles_of(text: str) -> dict[str, str]:
    """第N条 -> its words (whitespace removed). An article starts a line; a line that starts
    with a cross-reference ("第二十条规定的…", broken there by the PDF) is not the next
    article, so only the article numbered one more than the last one opens a new one."""
    heads = [m for m in ARTICLE.finditer(text)]
    found: dict[str, str] = {}
    starts: list[tuple[str, int]] = []
    for m in heads:
        if chinese_number(m.group(1)[1:-1]) == len(starts) + 1:
            starts.append((m.group(1), m.start(1)))
    for i, (name, start) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(text)
        found[name] = squeeze(text[start:end])
    return found


def test_articles_are_parsed_in_order():
    text = "第一条 甲\n乙\n第二条 丙，依照\n第一条规定\n第三条 丁"
    assert articles_of(text) == {
        "第一条": "第一条甲乙",
        "第二条": "第二条丙，依照第一条规定",
        "第三条": "第三条丁",
    }


# the articles each rulebook has (its last article is its commencement or interpretation)
ARTICLES = {"jiamusi": 22, "kaifeng": 32, "panzhihua": 19, "nanyang": 25, "xishuangbanna": 43}


@pytest.mark.parametrize("region", sorted(ARTICLES))
def test_each_rulebook_parses_into_all_its_articles(region):
    articles = rulebook(region)
    assert len(articles) == ARTICLES[region]
    assert all(len(words) > len(name) for name, words in articles.items())


def seed_files() -> dict[str, str]:
    """region id -> seed file, from the table in the seeds' README."""
    readme = SEEDS / "README.md"
    if not readme.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{readme} is missing: CI runs with shared/ beside the checkout")
        pytest.skip("shared/ is not beside this checkout")
    rows = re.findall(r"^\|\s*(\S+\.txt)\s*\|[^|`]*`([a-z_]+)`", readme.read_text("utf-8"), re.M)
    return {region: file for file, region in rows}


@cache
def rulebook(region: str) -> dict[str, str]:
    return articles_of((SEEDS / seed_files()[region]).read_text(encoding="utf-8"))


def found_in_order(quote: str, article: str) -> bool:
    at = 0
    for fragment in ELLIPSIS.split(squeeze(quote)):
        if not fragment:
            continue
        at = article.find(fragment, at)
        if at < 0:
            return False
        at += len(fragment)
    return True


def citations(node: object, where: str) -> Iterator[tuple[str, dict]]:
    """Every mapping with an `article` under `node` (a pack's or the monitoring rules' YAML),
    with the key it sits at."""
    if isinstance(node, dict):
        if "article" in node:
            yield where, node
        for key, value in node.items():
            yield from citations(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from citations(value, f"{where}[{i}]")


def pack_citations() -> list[tuple[str, str, dict]]:
    out = []
    for region in policy.known_regions():
        doc = yaml.safe_load((PACKS_DIR / f"{region}.yaml").read_text(encoding="utf-8"))
        out += [(region, where, node) for where, node in citations(doc["versions"], region)]
    return out


def monitoring_citations() -> list[tuple[str, str, dict]]:
    doc = yaml.safe_load(monitoring.CONFIG.read_text(encoding="utf-8"))
    return [(node.get("region"), where, node) for where, node in citations(doc, "monitoring")]


def test_every_monitoring_rule_cites_an_article_of_a_region():
    doc = yaml.safe_load(monitoring.CONFIG.read_text(encoding="utf-8"))
    for name, rule in doc.items():
        assert rule["cites"], name
        for cite in rule["cites"]:
            assert cite["region"] in policy.known_regions(), f"{name}: {cite}"


def check(region: str, where: str, node: dict) -> None:
    articles = rulebook(region)
    article = node["article"]
    assert article in articles, f"{where}: {article} is not an article of {region}'s rulebook"
    quote = node.get("text")
    if quote is not None:
        assert found_in_order(quote, articles[article]), (
            f"{where}: not the words of {region} {article}: {quote}"
        )


def test_pack_source_is_the_seed_of_its_region():
    files = seed_files()
    assert set(files) == set(policy.known_regions())
    for region in policy.known_regions():
        assert policy.load_region(region).source == files[region]


@pytest.mark.parametrize(
    ("region", "where", "node"), pack_citations(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_pack_quotes_are_the_articles_words(region, where, node):
    check(region, where, node)


@pytest.mark.parametrize(
    ("region", "where", "node"),
    monitoring_citations(),
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_monitoring_quotes_are_the_articles_words(region, where, node):
    check(region, where, node)


def test_a_misquote_is_caught():
    articles = rulebook("kaifeng")
    assert found_in_order("参保人员住院期间不同时享受普通门诊统筹待遇。", articles["第十条"])
    assert not found_in_order("参保人员住院期间不得享受普通门诊统筹待遇", articles["第十条"])
    # fragments out of order are not the article's words
    assert not found_in_order("不同时享受普通门诊统筹待遇…参保人员住院期间", articles["第十条"])
    assert not found_in_order("参保人员住院期间", articles["第十一条"])
    # the words monitoring.yaml once gave 西双版纳 第三十三条 are not its words
    article = rulebook("xishuangbanna")["第三十三条"]
    assert not found_in_order("严禁将住院费用（如住院期间的检查）转移至门诊统筹", article)
    assert found_in_order("严格控制将住院期间的检查等费用分解、转嫁由门诊统筹支付", article)
