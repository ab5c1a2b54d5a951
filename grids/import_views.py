"""Upload pages for the grid-tree and household imports (administrators only)."""

from functools import wraps

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts.roles import Role, user_has_role
from grids.importing import grid_tree_import, household_import


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Spreadsheet (CSV or XLSX)"))
    dry_run = forms.BooleanField(
        label=_("Dry run: check the file and count the changes, write nothing"), required=False
    )


class GridImportForm(ImportForm):
    boundaries = forms.FileField(
        label=_("Boundaries (GeoJSON FeatureCollection with a “code” property, optional)"),
        required=False,
    )


def administrator_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not user_has_role(request.user, Role.ADMINISTRATOR):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _import_page(request, *, form_class, title, columns_help, run):
    form = form_class(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = run(form.cleaned_data)
    return render(
        request,
        "imports/import.html",
        {"form": form, "result": result, "title": title, "columns_help": columns_help},
    )


@require_http_methods(["GET", "POST"])
@administrator_required
def grid_import_page(request):
    def run(data):
        upload = data["file"]
        return grid_tree_import(
            file=upload,
            filename=upload.name,
            boundaries=data.get("boundaries"),
            user=request.user,
            dry_run=data["dry_run"],
        )

    return _import_page(
        request,
        form_class=GridImportForm,
        title=_("Import the grid tree"),
        columns_help="code, parent_code, level, name, category, kind, households, population / "
        "编码, 上级编码, 层级, 名称, 类别, 类型, 户数, 人口",
        run=run,
    )


@require_http_methods(["GET", "POST"])
@administrator_required
def household_import_page(request):
    def run(data):
        upload = data["file"]
        return household_import(
            file=upload, filename=upload.name, user=request.user, dry_run=data["dry_run"]
        )

    return _import_page(
        request,
        form_class=ImportForm,
        title=_("Import households"),
        columns_help="code, grid_code, address, head_name, phone, size / "
        "户编码, 网格编码, 地址, 户主姓名, 电话, 人口",
        run=run,
    )
