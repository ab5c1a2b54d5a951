"""People, organisations and assignments built through personnel.services, so tests see
what users would create. Identity numbers and mobiles are generated valid and unique."""

import datetime
import itertools

from personnel.models import PoliticalStatus, Role
from personnel.services import assignment_create, organisation_create, person_upsert
from personnel.validators import id_check_digit

D = datetime.date
START = D(2022, 2, 1)

_seq = itertools.count(1)


def valid_id_number(n: int | None = None, region: str = "451024") -> str:
    """A resident identity number with a correct GB 11643 check digit; unique per n."""
    n = next(_seq) if n is None else n
    birth = D(1970, 1, 1) + datetime.timedelta(days=n // 1000)
    first17 = f"{region}{birth:%Y%m%d}{n % 1000:03d}"
    return first17 + id_check_digit(first17)


def valid_mobile(n: int | None = None) -> str:
    n = next(_seq) if n is None else n
    return f"139{n:08d}"


def role(code: str) -> Role:
    return Role.objects.get(code=code)


def make_org(name=None, *, grid, **kw):
    return organisation_create(name=name or f"单位{next(_seq)}", registered_grid=grid, **kw)


def make_person(name=None, *, grid, party=False, mobile=None, id_number=None, **kw):
    n = next(_seq)
    person, _ = person_upsert(
        name=name or f"人员{n}",
        registered_grid=grid,
        mobile=valid_mobile(n) if mobile is None else mobile,
        id_number=valid_id_number(n) if id_number is None else id_number,
        political_status=PoliticalStatus.PARTY_MEMBER
        if party
        else kw.pop("political_status", PoliticalStatus.MASSES),
        **kw,
    )
    return person


def assign(person, grid, role_code, start=START, **kw):
    return assignment_create(person=person, grid=grid, role=role(role_code), start_date=start, **kw)


def staff(grid, role_code, count=1, start=START, **kw):
    """`count` new people holding the role on the grid."""
    return [assign(make_person(grid=grid), grid, role_code, start, **kw) for _ in range(count)]


def fill_team(grid, on=START):
    """Staff a grid to exactly what its templates require, through the services."""
    from personnel.compliance import grid_compliance

    for need in grid_compliance(grid=grid, on=on).needs:
        staff(grid, need.role.code, need.missing, start=on)
