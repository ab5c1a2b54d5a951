"""Test data built through the real services, so tests see what users would create."""

import itertools

from accounts.services import user_create
from grids.models import Category, Kind, Level
from grids.services import grid_create, household_upsert

_seq = itertools.count(1)


def square(lng: float, lat: float, size: float = 0.05) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
        ],
    }


def make_grid(
    code,
    name=None,
    *,
    level,
    parent=None,
    category=Category.NON_BORDER,
    kind=Kind.CELL,
    boundary=None,
    **kw,
):
    return grid_create(
        code=code,
        name=name or f"网格{code}",
        level=level,
        parent=parent,
        category=category,
        kind=kind,
        boundary=boundary,
        **kw,
    )


def make_user(
    *, roles=("commander",), jurisdiction=None, username=None, password="pass-Word-123", **kw
):
    return user_create(
        username=username or f"user{next(_seq)}",
        password=password,
        jurisdiction=jurisdiction,
        roles=list(roles),
        **kw,
    )


def make_household(grid, code=None, **kw):
    n = next(_seq)
    defaults = {
        "address": f"{grid.name}{n}号",
        "head_name": f"户主{n}",
        "phone": "13800000000",
        "size": 3,
    }
    defaults.update(kw)
    return household_upsert(code=code or f"H{grid.code}-{n}", grid=grid, **defaults)


class Tree:
    """A small Baise tree: two counties, a township each, villages, hamlets, a unit grid.

    baise 451000000000
      debao 451024000000 (county)
        dongling 451024100000 (township)
          v1 451024100001 (village): h11 451024100001001, h12 451024100001002
          v2 451024100002 (village): h21 451024100002001
        hospital DB-HOSP-1 (unit, dedicated, county level)
      napo 451026000000 (county, border)
        baidu 451026100000 (township, border)
          nv1 451026100001 (village, border): nh1 451026100001001
    """

    def __init__(self):
        L = Level
        self.baise = make_grid(
            "451000000000", "百色市", level=L.CITY, boundary=square(105.0, 23.0, 2.0)
        )
        self.debao = make_grid(
            "451024000000",
            "德保县",
            level=L.COUNTY,
            parent=self.baise,
            boundary=square(106.0, 23.2, 0.5),
        )
        self.dongling = make_grid(
            "451024100000",
            "东凌镇",
            level=L.TOWNSHIP,
            parent=self.debao,
            boundary=square(106.1, 23.3, 0.2),
        )
        self.v1 = make_grid(
            "451024100001",
            "那温村",
            level=L.VILLAGE,
            parent=self.dongling,
            boundary=square(106.1, 23.3),
        )
        self.v2 = make_grid(
            "451024100002",
            "古寿村",
            level=L.VILLAGE,
            parent=self.dongling,
            boundary=square(106.2, 23.3),
        )
        self.h11 = make_grid(
            "451024100001001", "那温屯", level=L.HAMLET, parent=self.v1, expected_households=3
        )
        self.h12 = make_grid(
            "451024100001002", "弄立屯", level=L.HAMLET, parent=self.v1, expected_households=2
        )
        self.h21 = make_grid(
            "451024100002001", "古寿屯", level=L.HAMLET, parent=self.v2, expected_households=2
        )
        self.hospital = make_grid(
            "DB-HOSP-1",
            "德保县人民医院",
            level=L.COUNTY,
            parent=self.debao,
            category=Category.UNIT,
            kind=Kind.DEDICATED,
        )
        border = Category.BORDER
        self.napo = make_grid(
            "451026000000",
            "那坡县",
            level=L.COUNTY,
            parent=self.baise,
            category=border,
            boundary=square(105.8, 23.1, 0.5),
        )
        self.baidu = make_grid(
            "451026100000", "百都乡", level=L.TOWNSHIP, parent=self.napo, category=border
        )
        self.nv1 = make_grid(
            "451026100001", "百都村", level=L.VILLAGE, parent=self.baidu, category=border
        )
        self.nh1 = make_grid(
            "451026100001001", "百都屯", level=L.HAMLET, parent=self.nv1, category=border
        )
