"""grids_household_count (migration grids.0003): PostgreSQL keeps each grid's households
itself, whoever writes them. After each kind of write, the table must equal a direct
count; the full rollup reads it (screening.rollup._households_per_grid)."""

import csv
import io

import pytest
from django.db import connection, transaction
from django.db.models import Count

from grids.importing import household_import
from grids.models import Household
from screening import rollup
from tests.factories import make_household

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the count is kept by PostgreSQL triggers; elsewhere the rollup counts directly",
    ),
]


def kept() -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT grid_id, households FROM grids_household_count")
        return {grid_id: n for grid_id, n in cursor.fetchall() if n}


def counted() -> dict[int, int]:
    return dict(
        Household.objects.order_by()
        .values("grid_id")
        .annotate(n=Count("*"))
        .values_list("grid_id", "n")
    )


def test_every_kind_of_write_keeps_the_count(tree):
    a = make_household(tree.h11, code="HC-A")  # update_or_create
    make_household(tree.h11, code="HC-B")
    make_household(tree.h12, code="HC-C")
    assert kept() == counted() == {tree.h11.pk: 2, tree.h12.pk: 1}

    Household.objects.bulk_create(
        [
            Household(code=f"HC-{i}", grid=tree.nh1, address="x", head_name="y", size=1)
            for i in range(5)
        ]
    )
    assert kept() == counted()

    # A move, a bulk move and an edit that moves nothing.
    Household.objects.filter(pk=a.pk).update(grid=tree.h12)
    Household.objects.filter(grid=tree.nh1).update(grid=tree.h11)
    Household.objects.filter(grid=tree.h11).update(phone="13900000000")
    assert kept() == counted() == {tree.h11.pk: 6, tree.h12.pk: 2}

    # An import's creates and bulk updates (a move among them).
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "grid_code", "address", "head_name", "phone", "size"])
    writer.writerow(["HC-A", tree.h11.code, "那温屯1号", "黄大明", "", "4"])
    writer.writerow(["HC-NEW", tree.h12.code, "弄立屯2号", "农小红", "", "2"])
    assert household_import(file=io.BytesIO(out.getvalue().encode())).ok
    assert kept() == counted() == {tree.h11.pk: 7, tree.h12.pk: 2}

    # Plain SQL, deletes, and a rolled-back write.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE grids_household SET grid_id = %s WHERE code = 'HC-NEW'", [tree.nh1.pk]
        )
    Household.objects.filter(code__in=["HC-B", "HC-0"]).delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        Household.objects.filter(grid=tree.h11).delete()
        raise RuntimeError
    assert kept() == counted() == {tree.h11.pk: 5, tree.h12.pk: 1, tree.nh1.pk: 1}
    assert {g: n for g, n in rollup._households_per_grid() if n} == counted()
