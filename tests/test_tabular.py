"""gridcmd.tabular: encodings, XLSX, header mapping and row numbers."""

import codecs
import io

import pytest
from openpyxl import Workbook

from gridcmd.tabular import Column, TableError, detect_encoding, open_table

COLUMNS = (
    Column("code", ("编码",)),
    Column("name", ("名称",)),
    Column("note", ("备注",), required=False),
)


def rows_of(data: bytes):
    table = open_table(io.BytesIO(data), columns=COLUMNS)
    with table:
        return table, [(row.number, row.values) for row in table.rows()]


def xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_encoding_is_detected(encoding, detected):
    data = "编码,名称\n1,百色市\n2,德保县\n".encode(encoding)
    table, rows = rows_of(data)
    assert table.encoding == detected
    assert rows == [(2, {"code": "1", "name": "百色市"}), (3, {"code": "2", "name": "德保县"})]


def test_utf8_that_breaks_late_in_the_file_falls_back_to_gb18030():
    # The whole file decides, not its start: a GBK byte after a megabyte of ASCII still counts.
    data = b"code,name\n" + b"1,a\n" * 300_000 + "2,凌云县\n".encode("gbk")
    assert detect_encoding(io.BytesIO(data)) == "gb18030"


def test_bom_decides_even_when_content_is_plain_ascii():
    assert detect_encoding(io.BytesIO(codecs.BOM_UTF8 + b"code,name\n")) == "utf-8-sig"


def test_columns_in_any_order_with_spaces_blank_lines_and_case():
    data = "\n  名称 , CODE ,note\n\n百色市, 451000000000 ,\n,,\n德保县,451024000000,x\n".encode()
    _table, rows = rows_of(data)
    # The header is the first non-blank line (row 2); blank rows keep their numbers.
    assert rows == [
        (4, {"code": "451000000000", "name": "百色市", "note": ""}),
        (6, {"code": "451024000000", "name": "德保县", "note": "x"}),
    ]


def test_quoted_cell_spanning_lines_is_one_row():
    _table, rows = rows_of(b'code,name\n1,"two\nlines"\n2,b\n')
    assert rows == [(2, {"code": "1", "name": "two\nlines"}), (3, {"code": "2", "name": "b"})]


def test_unknown_duplicate_and_missing_columns_are_errors_in_the_header_row():
    with pytest.raises(TableError) as err:
        open_table(io.BytesIO(b"code,colour,CODE\n1,red,1\n"), columns=COLUMNS)
    found = {(e.row, e.column) for e in err.value.errors}
    assert found == {(1, "colour"), (1, "CODE"), (1, "name")}
    assert all(e.message for e in err.value.errors)


def test_cell_without_header_is_reported_with_its_column_letter():
    table = open_table(io.BytesIO(b"code,name\n1,a,stray\n2,b\n"), columns=COLUMNS)
    errors = []
    rows = [(row.number, row.values["code"]) for row in table.rows(errors)]
    assert rows == [(3, "2")]
    assert [(e.row, e.column) for e in errors] == [(2, "C")]


def test_xlsx_with_numbers_blank_rows_and_chinese_headers():
    data = xlsx(
        [["名称", "编码"], ["百色市", 451000000000], [None, None], ["德保县", 451024000000.0]]
    )
    table, rows = rows_of(data)
    assert table.format == "xlsx"
    assert rows == [
        (2, {"code": "451000000000", "name": "百色市"}),
        (4, {"code": "451024000000", "name": "德保县"}),
    ]


def test_rows_can_be_read_twice():
    for data in (b"code,name\n1,a\n", xlsx([["code", "name"], ["1", "a"]])):
        table = open_table(io.BytesIO(data), columns=COLUMNS)
        assert list(table.rows()) == list(table.rows())


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # an image
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,  # old binary .xls
        b"PK\x03\x04 not really a zip",  # a broken XLSX
        b"",  # empty
    ],
)
def test_neither_csv_nor_xlsx_is_a_clear_bilingual_error(data):
    with pytest.raises(TableError) as err:
        open_table(io.BytesIO(data), columns=COLUMNS)
    assert err.value.errors and err.value.errors[0].column == "file"
    assert err.value.errors[0].row is None
