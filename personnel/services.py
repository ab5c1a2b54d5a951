"""Writes to people, organisations, assignments, team templates and pioneer posts.

Every write goes through here: API, pages, importer, admin and seed data. Each service is
one transaction. The rules that span rows (personnel.rules.check_assignments: no
overlapping spans, one grid chief at a time, a 包保 leader one level up) are checked
against stored facts while the grids concerned are row-locked (SELECT ... FOR UPDATE in
primary-key order), so two concurrent writes cannot both see "no chief yet" and both add
one. On SQLite, which has no row locks, writes are serialised by the database lock.
"""

from __future__ import annotations

import datetime
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role as UserRole
from accounts.roles import user_has_role
from gridcmd.i18n import Problem
from grids.models import Category, GridNode, Kind, Level
from grids.services import raise_problems

from .models import (
    PARTY_STATUSES,
    Assignment,
    AuditEvent,
    Axis,
    Organisation,
    OrganisationType,
    Person,
    PoliticalStatus,
    PostClaim,
    PostType,
    Role,
    TeamRequirement,
    TeamTemplate,
)
from .rules import check_assignments
from .selectors import assignment_facts, assignment_facts_for, local_today
from .validators import normalize_id_number, normalize_mobile, validate_id_number, validate_mobile

logger = logging.getLogger(__name__)

VIEW_PERSONAL_DATA = "personnel.view_personal_data"


# --- People ----------------------------------------------------------------------------------------


def _identity_problems(
    *, name: str, mobile: str, id_number: str | None, political_status: str
) -> list[Problem]:
    problems = []
    if not name:
        problems.append(Problem("name", _("A name is required.")))
    if mobile:
        try:
            validate_mobile(mobile)
        except ValidationError as error:
            problems.append(Problem("mobile", error.messages[0]))
    if id_number:
        try:
            validate_id_number(id_number)
        except ValidationError as error:
            problems.append(Problem("id_number", error.messages[0]))
    if not mobile and not id_number:
        problems.append(Problem("mobile", _("Give a mobile number or an identity number.")))
    if political_status not in PoliticalStatus.values:
        problems.append(
            Problem(
                "political_status",
                _('Unknown political status "%(value)s".'),
                {"value": political_status},
            )
        )
    return problems


def person_match(*, id_number: str | None, mobile: str) -> Person | None:
    """The stored person a roster row means: by identity number; by mobile only when the
    identity number is missing. Two stored people with that mobile is an error."""
    if id_number:
        return Person.objects.filter(id_number=id_number).first()
    if mobile:
        matches = list(Person.objects.filter(mobile=mobile)[:2])
        if len(matches) > 1:
            raise_problems(
                [
                    Problem(
                        "mobile",
                        _("Several people have this mobile number; give the identity number."),
                    )
                ]
            )
        return matches[0] if matches else None
    return None


@transaction.atomic
def person_upsert(
    *,
    name: str,
    registered_grid: GridNode,
    mobile: str = "",
    id_number: str | None = None,
    political_status: str | None = None,
    organisation: Organisation | None = None,
    user=None,
    actor=None,
) -> tuple[Person, bool]:
    """Create a person or update the one matched by identity number (or by mobile when
    the identity number is missing). Returns (person, created).

    On update, values not given (None) are kept, and the registered grid stays where the
    person was first registered. With an `actor`, a match outside the actor's sight is
    refused rather than changed.
    """
    name = (name or "").strip()
    mobile = normalize_mobile(mobile)
    id_number = normalize_id_number(id_number) or None
    raise_problems(
        _identity_problems(
            name=name,
            mobile=mobile,
            id_number=id_number,
            political_status=political_status or PoliticalStatus.MASSES,
        )
    )
    person = person_match(id_number=id_number, mobile=mobile)
    if person is None:
        person = Person.objects.create(
            name=name,
            mobile=mobile,
            id_number=id_number,
            political_status=political_status or PoliticalStatus.MASSES,
            organisation=organisation,
            registered_grid=registered_grid,
            user=user,
        )
        return person, True
    if actor is not None and not Person.objects.visible_to(actor).filter(pk=person.pk).exists():
        field = "id_number" if id_number else "mobile"
        raise_problems([Problem(field, _("This person is registered outside your jurisdiction."))])
    person = Person.objects.select_for_update().get(pk=person.pk)
    changes = {"name": name}
    if political_status:
        changes["political_status"] = political_status
    if organisation is not None:
        changes["organisation"] = organisation
    if mobile:
        changes["mobile"] = mobile
    if id_number:
        changes["id_number"] = id_number
    if user is not None:
        changes["user"] = user
    _save_changes(person, changes)
    return person, False


@transaction.atomic
def person_update(*, person: Person, **changes) -> Person:
    """Change a person's name, mobile, identity number, political status, organisation."""
    allowed = {"name", "mobile", "id_number", "political_status", "organisation", "user"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"person_update cannot change {sorted(unknown)}")
    person = Person.objects.select_for_update().get(pk=person.pk)
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
    if "mobile" in changes:
        changes["mobile"] = normalize_mobile(changes["mobile"])
    if "id_number" in changes:
        changes["id_number"] = normalize_id_number(changes["id_number"]) or None
    merged = {
        key: changes.get(key, getattr(person, key))
        for key in ("name", "mobile", "id_number", "political_status")
    }
    raise_problems(_identity_problems(**merged))
    if (
        merged["id_number"]
        and Person.objects.filter(id_number=merged["id_number"]).exclude(pk=person.pk).exists()
    ):
        raise_problems(
            [Problem("id_number", _("Another person already has this identity number."))]
        )
    _save_changes(person, changes)
    return person


def _save_changes(obj, changes: dict) -> None:
    changed = [key for key, value in changes.items() if getattr(obj, key) != value]
    for key in changed:
        setattr(obj, key, changes[key])
    if changed:
        fields = [f"{key}" for key in changed]
        if any(f.name == "updated_at" for f in obj._meta.fields):
            fields.append("updated_at")
        obj.save(update_fields=fields)


def can_view_personal_data(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(VIEW_PERSONAL_DATA))


@transaction.atomic
def personal_data_reveal(
    *, user, person: Person, via: str = "reveal", assignment: Assignment | None = None
) -> dict:
    """The full mobile and identity number, for holders of personnel.view_personal_data;
    each reveal writes an AuditEvent. Without the permission: PermissionDenied, and no
    audit row (nothing was seen), but a warning in the security log."""
    if not can_view_personal_data(user):
        logger.warning(
            "personal data reveal denied: user=%s person=%s via=%s", user.pk, person.pk, via
        )
        raise PermissionDenied
    detail = {"via": via, "fields": ["mobile", "id_number"]}
    if assignment is not None:
        detail["assignment"] = assignment.pk
    AuditEvent.objects.create(
        actor=user, action=AuditEvent.Action.VIEW_PERSONAL_DATA, person=person, detail=detail
    )
    return {"mobile": person.mobile, "id_number": person.id_number}


@transaction.atomic
def personal_data_call(*, user, assignment: Assignment) -> str:
    """The full mobile of someone in a responsibility chain, for tap-to-call. Dialling
    discloses the number, so each call is audited like a reveal (docs/adr/0007)."""
    person = assignment.person
    AuditEvent.objects.create(
        actor=user,
        action=AuditEvent.Action.VIEW_PERSONAL_DATA,
        person=person,
        detail={"via": "call", "fields": ["mobile"], "assignment": assignment.pk},
    )
    return person.mobile


# --- Organisations ---------------------------------------------------------------------------------


def _organisation_problems(
    *, name, type, parent, registered_grid, exclude_pk=None
) -> list[Problem]:
    problems = []
    if not name:
        problems.append(Problem("name", _("A name is required.")))
    if type not in OrganisationType.values:
        problems.append(
            Problem("type", _('Unknown organisation type "%(value)s".'), {"value": type})
        )
    if (
        name
        and Organisation.objects.filter(registered_grid=registered_grid, name=name)
        .exclude(pk=exclude_pk)
        .exists()
    ):
        problems.append(
            Problem("name", _("An organisation with this name is already registered at this grid."))
        )
    if parent is not None and exclude_pk is not None:
        ancestor, seen = parent, set()
        while ancestor is not None and ancestor.pk not in seen:
            if ancestor.pk == exclude_pk:
                problems.append(Problem("parent", _("An organisation cannot sit under itself.")))
                break
            seen.add(ancestor.pk)
            ancestor = ancestor.parent
    return problems


@transaction.atomic
def organisation_create(
    *,
    name: str,
    registered_grid: GridNode,
    type: str = OrganisationType.OTHER,
    parent: Organisation | None = None,
    home_grid: GridNode | None = None,
) -> Organisation:
    name = (name or "").strip()
    raise_problems(
        _organisation_problems(name=name, type=type, parent=parent, registered_grid=registered_grid)
    )
    return Organisation.objects.create(
        name=name, type=type, parent=parent, home_grid=home_grid, registered_grid=registered_grid
    )


@transaction.atomic
def organisation_get_or_create(
    *, name: str, registered_grid: GridNode, type: str = OrganisationType.OTHER
) -> tuple[Organisation, bool]:
    """The organisation of that name registered at the grid or the nearest ancestor (a
    county health bureau serves the villages below it), else a new one at the grid."""
    name = (name or "").strip()
    existing = (
        Organisation.objects.filter(
            name=name,
            registered_grid__code__in=registered_grid.ancestor_codes + [registered_grid.code],
        )
        .order_by("-registered_grid__depth")
        .first()
    )
    if existing is not None:
        return existing, False
    return organisation_create(name=name, registered_grid=registered_grid, type=type), True


@transaction.atomic
def organisation_update(*, organisation: Organisation, **changes) -> Organisation:
    allowed = {"name", "type", "parent", "home_grid"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"organisation_update cannot change {sorted(unknown)}")
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
    merged = {
        key: changes.get(key, getattr(organisation, key)) for key in ("name", "type", "parent")
    }
    raise_problems(
        _organisation_problems(
            **merged, registered_grid=organisation.registered_grid, exclude_pk=organisation.pk
        )
    )
    _save_changes(organisation, changes)
    return organisation


# --- Assignments -----------------------------------------------------------------------------------


def _lock_grids(grid: GridNode, role: Role) -> None:
    """Row-lock the grid, and for a 包保 leader the grid one level up whose chief or leader
    qualifies them, in primary-key order (one order everywhere: no deadlocks)."""
    codes = [grid.code]
    if role.is_baobao_leader and 1 <= grid.level - 1 <= len(grid.ancestor_codes):
        codes.append(grid.ancestor_codes[grid.level - 2])
    list(
        GridNode.objects.select_for_update()
        .filter(code__in=codes)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _check(assignment_facts_new, *, grid: GridNode, person_id: int, exclude_ids=()) -> None:
    stored = assignment_facts_for(
        grid_ids=[grid.pk], person_ids=[person_id], exclude_ids=exclude_ids
    )
    problems = check_assignments([assignment_facts_new], stored)
    raise_problems(problems.get(0, []))


def _date_problems(start_date, end_date) -> list[Problem]:
    if start_date is None:
        return [Problem("start_date", _("A start date is required."))]
    if end_date is not None and end_date < start_date:
        return [Problem("end_date", _("The end date is before the start date."))]
    return []


@transaction.atomic
def assignment_create(
    *,
    person: Person,
    grid: GridNode,
    role: Role,
    start_date: datetime.date,
    axis: str = Axis.TERRITORIAL,
    end_date: datetime.date | None = None,
    sent_down: bool = False,
) -> Assignment:
    problems = _date_problems(start_date, end_date)
    if axis not in Axis.values:
        problems.append(
            Problem("axis", _('Unknown responsibility axis "%(value)s".'), {"value": axis})
        )
    raise_problems(problems)
    _lock_grids(grid, role)
    assignment = Assignment(
        person=person,
        grid=grid,
        role=role,
        axis=axis,
        start_date=start_date,
        end_date=end_date,
        sent_down=sent_down,
    )
    _check(assignment_facts(assignment), grid=grid, person_id=person.pk)
    assignment.save()
    return assignment


@transaction.atomic
def assignment_update(*, assignment: Assignment, **changes) -> Assignment:
    """Change role, axis, dates or sent_down. Moving to another grid is
    assignment_move (end this one, start a new one), so the history stays."""
    allowed = {"role", "axis", "start_date", "end_date", "sent_down"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"assignment_update cannot change {sorted(unknown)}")
    assignment = Assignment.objects.select_related("grid", "role").get(pk=assignment.pk)
    role = changes.get("role", assignment.role)
    _lock_grids(assignment.grid, role)
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("grid", "role")
        .get(pk=assignment.pk)
    )
    merged = {key: changes.get(key, getattr(assignment, key)) for key in allowed}
    problems = _date_problems(merged["start_date"], merged["end_date"])
    if merged["axis"] not in Axis.values:
        problems.append(
            Problem(
                "axis", _('Unknown responsibility axis "%(value)s".'), {"value": merged["axis"]}
            )
        )
    raise_problems(problems)
    updated = assignment_facts(
        assignment,
        role_code=role.code,
        is_grid_chief=role.is_grid_chief,
        is_baobao_leader=role.is_baobao_leader,
        start_date=merged["start_date"],
        end_date=merged["end_date"],
    )
    _check(
        updated, grid=assignment.grid, person_id=assignment.person_id, exclude_ids=[assignment.pk]
    )
    _save_changes(assignment, changes)
    return assignment


def assignment_end(*, assignment: Assignment, end_date: datetime.date | None = None) -> Assignment:
    """End an assignment: `end_date` is the last day served (inclusive), default today."""
    return assignment_update(assignment=assignment, end_date=end_date or local_today())


@transaction.atomic
def assignment_move(
    *, assignment: Assignment, grid: GridNode, start_date: datetime.date | None = None
) -> Assignment:
    """Move someone to another grid in the same role: the old assignment ends the day
    before `start_date` (default today) and a new one starts then."""
    start_date = start_date or local_today()
    if assignment.start_date >= start_date:
        raise_problems(
            [Problem("start_date", _("The move must start after the current assignment started."))]
        )
    assignment_end(assignment=assignment, end_date=start_date - datetime.timedelta(days=1))
    return assignment_create(
        person=assignment.person,
        grid=grid,
        role=assignment.role,
        axis=assignment.axis,
        start_date=start_date,
        sent_down=assignment.sent_down,
    )


# --- Team templates --------------------------------------------------------------------------------


def can_edit_templates(user) -> bool:
    """Templates apply everywhere, so only a superuser or an administrator of a whole city
    may write them."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    jurisdiction = user.jurisdiction
    return (
        user_has_role(user, UserRole.ADMINISTRATOR)
        and jurisdiction is not None
        and jurisdiction.level == Level.CITY
    )


def _template_problems(
    *, name, levels, categories, kinds, n, requirements, exclude_pk=None
) -> list[Problem]:
    problems = []
    if not name:
        problems.append(Problem("name", _("A name is required.")))
    elif TeamTemplate.objects.filter(name=name).exclude(pk=exclude_pk).exists():
        problems.append(Problem("name", _("A team template with this name exists.")))
    if not levels or any(level not in Level.values for level in levels):
        problems.append(Problem("levels", _("Give one or more grid levels from 1 to 5.")))
    if any(c not in Category.values for c in categories):
        problems.append(Problem("categories", _("Unknown grid category.")))
    if any(k not in Kind.values for k in kinds):
        problems.append(Problem("kinds", _("Unknown grid kind.")))
    if n is None or n < 0:
        problems.append(Problem("n", _("N is a whole number of people, 0 or more.")))
    roles = [role.pk for role, _count in requirements]
    if len(roles) != len(set(roles)):
        problems.append(Problem("requirements", _("Each role appears once in a template.")))
    if any(count is not None and count < 0 for _role, count in requirements):
        problems.append(Problem("requirements", _("A minimum count is 0 or more.")))
    return problems


def _set_requirements(template: TeamTemplate, requirements) -> None:
    TeamRequirement.objects.filter(template=template).delete()
    TeamRequirement.objects.bulk_create(
        [
            TeamRequirement(template=template, role=role, min_count=count)
            for role, count in requirements
        ]
    )


@transaction.atomic
def team_template_create(
    *,
    name: str,
    levels: list[int],
    requirements: list[tuple[Role, int | None]],
    description: str = "",
    categories: list[str] = (),
    kinds: list[str] = (),
    n: int = 1,
    requires_checkpoints: bool = False,
) -> TeamTemplate:
    """requirements: (role, minimum) pairs; a minimum of None means N."""
    name = (name or "").strip()
    levels, categories, kinds = sorted(set(levels)), sorted(set(categories)), sorted(set(kinds))
    raise_problems(
        _template_problems(
            name=name,
            levels=levels,
            categories=categories,
            kinds=kinds,
            n=n,
            requirements=requirements,
        )
    )
    template = TeamTemplate.objects.create(
        name=name,
        description=description,
        levels=levels,
        categories=categories,
        kinds=kinds,
        n=n,
        requires_checkpoints=requires_checkpoints,
    )
    _set_requirements(template, requirements)
    return template


@transaction.atomic
def team_template_update(*, template: TeamTemplate, requirements=None, **changes) -> TeamTemplate:
    allowed = {"name", "description", "levels", "categories", "kinds", "n", "requires_checkpoints"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"team_template_update cannot change {sorted(unknown)}")
    template = TeamTemplate.objects.select_for_update().get(pk=template.pk)
    for key in ("levels", "categories", "kinds"):
        if key in changes:
            changes[key] = sorted(set(changes[key]))
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
    merged = {
        key: changes.get(key, getattr(template, key))
        for key in ("name", "levels", "categories", "kinds", "n")
    }
    current = [(r.role, r.min_count) for r in template.requirements.select_related("role")]
    raise_problems(
        _template_problems(
            **merged,
            requirements=current if requirements is None else requirements,
            exclude_pk=template.pk,
        )
    )
    _save_changes(template, changes)
    if requirements is not None:
        _set_requirements(template, requirements)
    return template


@transaction.atomic
def team_template_delete(*, template: TeamTemplate) -> None:
    template.delete()


# --- Pioneer posts ---------------------------------------------------------------------------------


@transaction.atomic
def post_claim(
    *, person: Person, grid: GridNode, post_type: PostType, claimed_on: datetime.date | None = None
) -> PostClaim:
    """A party member (or probationary member) claims a pioneer post at a grid."""
    if person.political_status not in PARTY_STATUSES:
        raise_problems([Problem("person", _("Only party members can claim a pioneer post."))])
    person = Person.objects.select_for_update().get(pk=person.pk)  # one claim at a time per person
    if PostClaim.objects.filter(
        person=person, grid=grid, post_type=post_type, released_on__isnull=True
    ).exists():
        raise_problems(
            [Problem("post_type", _("This person already holds this post at this grid."))]
        )
    try:
        with transaction.atomic():
            return PostClaim.objects.create(
                person=person,
                grid=grid,
                post_type=post_type,
                claimed_on=claimed_on or local_today(),
            )
    except IntegrityError:  # a concurrent claim won the race
        raise_problems(
            [Problem("post_type", _("This person already holds this post at this grid."))]
        )


@transaction.atomic
def post_release(*, claim: PostClaim, released_on: datetime.date | None = None) -> PostClaim:
    """Give a post up: `released_on` is the last day held (inclusive), default today."""
    claim = PostClaim.objects.select_for_update().get(pk=claim.pk)
    released_on = released_on or local_today()
    if claim.released_on is not None:
        raise_problems([Problem("released_on", _("This post has already been released."))])
    if released_on < claim.claimed_on:
        raise_problems(
            [Problem("released_on", _("A post cannot be released before it was claimed."))]
        )
    claim.released_on = released_on
    claim.save(update_fields=["released_on"])
    return claim
