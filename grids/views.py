"""Grid pages: thin adapters from a request to the grid selectors and a template.

Scoping is the selectors' job (grid_get answers 404 outside the jurisdiction); these views
only choose what to show."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.roles import Role, user_has_role
from gridcmd.masking import mask_phone
from personnel.views import grid_personnel_context

from .models import Category, Level
from .selectors import (
    grid_breadcrumbs,
    grid_children,
    grid_feature,
    grid_get,
    grid_home,
    household_list,
)

#: A grid page lists this many households; the rest are for the household pages and exports.
HOUSEHOLD_PREVIEW = 50
# The map script builds each child's URL from this one, so it needs no route table.
_CODE_PLACEHOLDER = "__CODE__"


@login_required
def home(request):
    node = grid_home(user=request.user)
    if node is None:
        return render(request, "grids/no_jurisdiction.html")
    # Each role starts where its day's work is: a commander on the jurisdiction's dashboard,
    # a grid worker on the phone page of their grids, everyone else on the grid page.
    if user_has_role(request.user, Role.COMMANDER):
        return redirect("screening:dashboard", code=node.code)
    if user_has_role(request.user, Role.GRID_WORKER):
        return redirect("work:home")
    return redirect("grids:detail", code=node.code)


@login_required
def grid_detail(request, code: str):
    user = request.user
    node = grid_get(user=user, code=code)
    children = list(grid_children(user=user, node=node))
    # The same features the geojson API serves, built from the rows already loaded so the
    # page costs one children query; children without a boundary have nothing to draw.
    features = {
        "type": "FeatureCollection",
        "features": [grid_feature(c, child_count=c.child_count) for c in children if c.boundary],
    }
    households, more_households = None, False
    if node.level == Level.HAMLET or node.category == Category.UNIT:
        rows = list(household_list(user=user, grid=node).order_by("code")[: HOUSEHOLD_PREVIEW + 1])
        more_households = len(rows) > HOUSEHOLD_PREVIEW
        # Only the masked phone reaches the template.
        households = [
            {
                "code": h.code,
                "address": h.address,
                "head_name": h.head_name,
                "phone": mask_phone(h.phone),
                "size": h.size,
            }
            for h in rows[:HOUSEHOLD_PREVIEW]
        ]
    return render(
        request,
        "grids/grid_detail.html",
        {
            "node": node,
            "breadcrumbs": grid_breadcrumbs(user=user, node=node),
            "children": children,
            "features": features,
            "households": households,
            "more_households": more_households,
            "household_preview": HOUSEHOLD_PREVIEW,
            "detail_url_template": reverse("grids:detail", args=[_CODE_PLACEHOLDER]),
            "code_placeholder": _CODE_PLACEHOLDER,
            "MAP_TILE_URL": settings.MAP_TILE_URL,
            "MAP_TILE_ATTRIBUTION": settings.MAP_TILE_ATTRIBUTION,
            # Team, 包保 chain, staffing and pioneer posts (issue 3): a fixed number of queries.
            **grid_personnel_context(user=user, node=node, children=children, features=features),
        },
    )
