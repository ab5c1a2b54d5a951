"""gridcmd.arrays: array literals read back by PostgreSQL as the values they were made of."""

import datetime
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from gridcmd.arrays import array_literal


def on_postgresql(test):
    skip = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL arrays")
    return pytest.mark.django_db(skip(test))


MOMENT = datetime.datetime(2026, 11, 24, 7, 30, 15, 123456, tzinfo=datetime.UTC)


def read_back(values, db_type):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{db_type}[]", [array_literal(values)])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("values", "db_type"),
    [
        ([1, 2, 30_000_000_000, -4], "bigint"),
        ([uuid.uuid4() for _ in range(5)], "uuid"),
        ([datetime.date(2026, 11, 24), datetime.date(2020, 2, 29)], "date"),
        ([MOMENT, MOMENT, MOMENT + datetime.timedelta(hours=3)], "timestamptz"),
        ([True, False, True, None], "boolean"),
        ([None, 3, None], "integer"),
        ([], "integer"),
    ],
)
@on_postgresql
def test_plain_columns_round_trip(values, db_type):
    assert read_back(values, db_type) == values


@on_postgresql
def test_text_is_quoted_and_escaped():
    values = [
        "visit",
        "visit",  # repeated values share one formatting
        "",
        "NULL",
        'a "quoted" word',
        "back\\slash",
        "{braces}, commas",
        "  spaces  ",
        "网格员 入户排查",
        None,
    ]
    assert read_back(values, "text") == values


@on_postgresql
def test_local_times_keep_their_moment():
    local = timezone.localtime(MOMENT)  # +08:00
    assert read_back([local, MOMENT], "timestamptz") == [MOMENT, MOMENT]


def test_booleans_mixed_with_integers_are_not_confused():
    # True == 1 in Python: a shared formatting would print one as the other.
    assert array_literal([1, True, 0, False]) == "{1,t,0,f}"
