"""csvfile.read_rows, the one reader of every CSV import: the encodings Excel saves in on a
Chinese Windows, what Excel leaves behind, lines numbered as in the file, and one line for
what cannot be read."""

import codecs

import pytest

from gongji.csvfile import check_header, decode, read_rows
from gongji.errors import InputError
from gongji.labels import reason_zh

TEXT = "region,id,name\nkaifeng,A1,张三丰\nkaifeng,A2,欧阳娜娜\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_each_encoding_reads_the_same_rows(encoding):
    rows = read_rows(TEXT.encode(encoding), "m.csv")
    assert rows.header == ("region", "id", "name")
    assert list(rows) == [
        (2, {"region": "kaifeng", "id": "A1", "name": "张三丰"}),
        (3, {"region": "kaifeng", "id": "A2", "name": "欧阳娜娜"}),
    ]


def test_a_path_is_read_and_named_by_its_file_name(tmp_path):
    path = tmp_path / "成员.csv"
    path.write_bytes(codecs.BOM_UTF8 + TEXT.encode())
    assert read_rows(path).name == "成员.csv" and len(read_rows(path)) == 2
    with pytest.raises(InputError) as err:
        read_rows(tmp_path / "none.csv")
    assert err.value.field == "none.csv" and "cannot read" in err.value.reason


def test_what_excel_leaves_behind_is_not_data():
    """Blank rows at the end, columns once edited and now empty (no name, no value)."""
    text = "region,id,name,,\r\nkaifeng,A1,张三,,\r\n,,,,\r\n\r\nkaifeng,A2,李四,,\r\n,,,,\r\n"
    rows = read_rows(text.encode("gbk"), "m.csv")
    assert rows.header == ("region", "id", "name")
    assert list(rows) == [
        (2, {"region": "kaifeng", "id": "A1", "name": "张三"}),
        (5, {"region": "kaifeng", "id": "A2", "name": "李四"}),  # line 5 of the file
    ]


def test_a_cell_over_two_lines_keeps_the_numbering_of_the_lines():
    rows = read_rows(b'region,id,name\nkaifeng,A1,"two\nlines"\nkaifeng,A2,x\n', "m.csv")
    assert [line for line, _ in rows] == [2, 4]


def test_cells_beyond_the_header_and_a_value_under_no_name_are_named():
    rows = read_rows(b"region,id\nkaifeng,A1,extra\nkaifeng,A2\n", "m.csv")
    assert list(rows) == [
        (2, {"region": "kaifeng", "id": "A1", None: ["extra"]}),
        (3, {"region": "kaifeng", "id": "A2"}),
    ]
    with pytest.raises(InputError) as err:
        read_rows(b"region,,id\nkaifeng,x,A1\n", "m.csv")
    assert err.value.field == "m.csv: header" and "column 2 has no name" in err.value.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no header line"),
        (b"\n\n", "no header line"),
        (b'region,id\n"kaifeng,A1\n', "not valid CSV"),
        (b"region,id\nkaifeng,\x00A1\n", "not a text file"),
    ],
)
def test_what_is_not_a_csv_file_is_one_line(data, reason):
    with pytest.raises(InputError) as err:
        read_rows(data, "m.csv")
    assert reason in err.value.reason and "\n" not in str(err.value)


def test_check_header_names_every_problem_at_once():
    rows = read_rows(b"regoin,id,id\nkaifeng,A1,A1\n", "m.csv")
    with pytest.raises(InputError) as err:
        check_header(rows, ["region", "id", "type"], ["region", "id", "type"])
    assert err.value.field == "m.csv: header"
    assert err.value.reason == (
        "重复的列：id；未知的列：regoin；缺少的列：region、type；可用的列：region、id、type。 "
        "repeated column(s): id; unknown column(s): regoin; missing column(s): region, type; "
        "the columns are: region, id, type"
    )
    assert reason_zh(err.value.reason) == (  # as the console's banner and the CLI show it
        "重复的列：id；未知的列：regoin；缺少的列：region、type；可用的列：region、id、type。"
    )
    check_header(read_rows(b"id,region\n", "m.csv"), ["region", "id", "type"], ["region"])


def test_decode_prefers_utf8_and_falls_back_to_gb18030():
    assert decode("张三".encode(), "f") == "张三"
    assert decode("张三".encode("gbk"), "f") == "张三"
    assert decode(codecs.BOM_UTF8 + b"abc", "f") == "abc"
