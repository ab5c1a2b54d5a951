"""People pages and the personnel sections of the grid page: thin adapters from a request
to the personnel selectors, compliance and services, and a template.

Scoping is the selectors' job (a person or grid outside the jurisdiction is a 404). Full
mobiles and identity numbers never reach a template: the views hand over masked copies,
except the one response of an audited reveal (services.personal_data_reveal).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from gridcmd.masking import mask_id_number, mask_phone
from grids.models import GridNode
from grids.scoping import path_in_jurisdiction

from . import selectors, services
from .compliance import staffing_rollup

#: People per page of the list.
PAGE_SIZE = 50


# --- The person list ------------------------------------------------------------------------------


class PersonFilterForm(forms.Form):
    q = forms.CharField(label=pgettext_lazy("person", "Name"), required=False, max_length=50)
    # No max_length: an overlong code is simply an unknown grid (an empty list), not ignored.
    grid = forms.CharField(label=_("Grid code"), required=False)
    role = forms.ChoiceField(label=_("Role"), required=False)
    organisation = forms.TypedChoiceField(
        label=_("Organisation"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, data, *, user):
        super().__init__(data)
        self.fields["role"].choices = [("", _("All roles"))] + [
            (r.code, r.label) for r in selectors.role_list()
        ]
        # Same names occur in many places (every village has a 村委会): show where each is.
        self.fields["organisation"].choices = [("", _("All organisations"))] + [
            (o.pk, f"{o.name} · {o.registered_grid.name}")
            for o in selectors.organisation_list(user=user).order_by("name", "pk")
        ]


def _mask_person(person):
    person.mobile_masked = mask_phone(person.mobile)
    person.id_number_masked = mask_id_number(person.id_number)
    return person


@login_required
def person_list(request):
    user = request.user
    form = PersonFilterForm(request.GET or None, user=user)
    filters = {}
    if form.is_bound:
        # An invalid field is left out of cleaned_data (and shown as an error); the valid
        # ones still filter, so a stale organisation id never empties the page or fails.
        form.is_valid()
        filters = form.cleaned_data
    grid, unknown_grid = None, False
    if filters.get("grid"):
        grid = (
            GridNode.objects.visible_to(user)
            .filter(code=filters["grid"].strip())
            .defer("boundary")
            .first()
        )
        unknown_grid = grid is None
    people = (
        selectors.person_list(
            user=user,
            grid=grid,
            role=filters.get("role") or None,
            organisation=filters.get("organisation"),
            search=filters.get("q") or None,
        )
        if not unknown_grid
        else selectors.person_list(user=user).none()
    )
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    for person in page:
        _mask_person(person)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "personnel/person_list.html",
        {
            "form": form,
            "page": page,
            "grid": grid,
            "unknown_grid": unknown_grid,
            "query": query.urlencode(),
        },
    )


# --- The person page ------------------------------------------------------------------------------


def _person_page(request, person, revealed=None):
    user = request.user
    today = selectors.local_today()
    # A person is visible when registered or assigned inside the jurisdiction; their
    # assignments and registration outside it are not shown: the page must not name grids
    # the user cannot open (ADR 0004).
    visible = [a for a in person.all_assignments if path_in_jurisdiction(user, a.grid.path)]
    current = [a for a in visible if a.end_date is None or a.end_date >= today]
    past = [a for a in visible if a.end_date is not None and a.end_date < today]
    claims = selectors.post_claim_list(user=user).filter(person=person)
    response = render(
        request,
        "personnel/person_detail.html",
        {
            "person": _mask_person(person),
            "current": current,
            "past": past,
            "hidden_assignments": len(visible) < len(person.all_assignments),
            "registered_inside": path_in_jurisdiction(user, person.registered_grid.path),
            "claims": claims,
            "today": today,
            "can_reveal": services.can_view_personal_data(user),
            "revealed": revealed,
        },
    )
    if revealed is not None:
        # The full values are shown once: not cached, not replayed by the back button.
        response["Cache-Control"] = "no-store"
    return response


@login_required
def person_detail(request, pk: int):
    return _person_page(request, selectors.person_get(user=request.user, pk=pk))


@login_required
@require_POST
def person_reveal(request, pk: int):
    """The full mobile and identity number, once, for holders of the permission; audited by
    the service. Without it: 403 and no audit row (docs/adr/0007)."""
    person = selectors.person_get(user=request.user, pk=pk)
    try:
        revealed = services.personal_data_reveal(user=request.user, person=person)
    except services.PermissionDenied:
        raise PermissionDenied from None
    return _person_page(request, person, revealed=revealed)


# --- Sections of the grid page -----------------------------------------------------------------------


def _call_url(assignment) -> str | None:
    # The audited tap-to-call redirect (302 to tel:); the page only ever holds the mask.
    if not assignment.person.mobile:
        return None
    return reverse("personnel-api:assignment-call", args=[assignment.pk])


def _entry(assignment, prefix: str) -> dict:
    """What a page shows of one assignment: masked, with links only inside the
    jurisdiction (the chain reaches above it: docs/adr/0007)."""
    person = assignment.person
    inside = assignment.grid.path.startswith(prefix)
    return {
        "pk": assignment.pk,
        "name": person.name,
        "person_url": reverse("personnel:detail", args=[person.pk]) if inside else None,
        "role": assignment.role,
        "organisation": person.organisation.name if person.organisation else "",
        "mobile": mask_phone(person.mobile),
        "call_url": _call_url(assignment),
        "axis": assignment.axis,
        "axis_label": assignment.get_axis_display(),
        "sent_down": assignment.sent_down,
        "start_date": assignment.start_date,
    }


def _staffing_state(child) -> tuple[str, int]:
    """("ok" | "short" | "none", people missing) over a child's whole subtree: a township
    whose own team is full but whose villages are short is short. "none": no template
    asks anything of the child and nothing below it is short."""
    tally = child.subtree
    missing = sum(tally.shortages.values()) + sum(tally.shortfalls.values())
    if tally.fully_staffed < tally.grids:
        return "short", missing
    if not child.compliance.templates:
        return "none", 0
    return "ok", 0


def grid_personnel_context(*, user, node: GridNode, children: list, features: dict) -> dict:
    """Team, 包保 chain, staffing and pioneer posts for the grid page.

    A fixed number of queries whatever the number of children, people or levels: team 1,
    chain 2, staffing rollup 4, post counts 3. Each child in `children` gets `staffing`
    (its ChildStaffing), `staffing_state` and `staffing_missing`; each map feature gets a
    `staffing` property for the map's staffing colouring.
    """
    chain = selectors.grid_chain(user=user, node=node)  # 404 for a user who sees nothing
    prefix = chain.visible_prefix
    team = [_entry(a, prefix) for a in selectors.grid_team(user=user, node=node)]
    chain_levels = [
        {
            "grid": level.grid,
            "inside": level.grid.path.startswith(prefix),
            "people": [_entry(a, prefix) for a in level.assignments],
            "gaps": [gap.kind for gap in level.gaps if gap.kind != "axis_uncovered"],
        }
        for level in chain.levels
    ]
    axes = [
        {
            "axis": axis.axis,
            "label": axis.label,
            "covered": axis.covered,
            "people": [_entry(a, prefix) for a in axis.assignments],
        }
        for axis in chain.axes
    ]

    rollup = staffing_rollup(user=user, node=node)
    by_code = {c.compliance.grid.code: c for c in rollup.children}
    for child in children:
        staffing = by_code.get(child.code)
        child.staffing = staffing
        child.staffing_state, child.staffing_missing = (
            _staffing_state(staffing) if staffing else ("none", 0)
        )
    states = {child.code: child.staffing_state for child in children}
    for feature in features.get("features", []):
        feature["properties"]["staffing"] = states.get(feature["properties"]["code"], "none")

    posts = selectors.post_counts(user=user, node=node)

    def post_row(kind, counts):
        cells = [(str(t), counts.counts.get(t.code, 0)) for t in posts.post_types]
        return {"kind": kind, "grid": counts.grid, "cells": cells, "total": counts.total}

    post_rows = [post_row("subtree", posts.node), post_row("own", posts.own)]
    post_rows += [post_row("child", counts) for counts in posts.children]
    return {
        "team": team,
        "people_url": reverse("personnel:list") + f"?grid={node.code}",
        "chain_levels": chain_levels,
        "chain_axes": axes,
        "chain_gap_count": len(chain.gaps),
        "staffing": rollup.node,
        "staffing_levels": [
            {"label": level.label, "tally": level.tally, "summary": rollup.summary(level)}
            for level in rollup.levels
        ],
        "posts": posts,
        "post_labels": [str(t) for t in posts.post_types],
        "post_rows": post_rows,
    }
