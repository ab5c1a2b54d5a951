"""Pages for the roster import (administrators only): upload with a dry-run option, the
job page (result, errors and the report download, or a progress bar that polls the job
API), and the roster export download."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Role, user_has_role
from grids.import_views import administrator_required
from personnel.import_apis import busy_message, export_response, report_response
from personnel.jobs import (
    ImportBusy,
    import_job_get,
    import_job_progress,
    import_job_resubmit,
    import_job_submit,
)
from personnel.models import ImportJob

COLUMNS_HELP = (
    "姓名, 手机号, 身份证号, 单位, 政治面貌, 网格编码, 角色, 责任类型, 是否下沉, 开始日期 (结束日期) / "
    "name, mobile, id_number, organization, political_status, grid_code, role, axis, sent_down, "
    "start_date (end_date)"
)


class RosterImportForm(forms.Form):
    file = forms.FileField(label=_("Spreadsheet (CSV or XLSX)"))
    dry_run = forms.BooleanField(
        label=_("Dry run: check the file and show what would change, write nothing"),
        required=False,
        initial=True,
    )


@require_http_methods(["GET", "POST"])
@administrator_required
def roster_import_page(request):
    form = RosterImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_job_submit(
                user=request.user,
                file=upload,
                filename=upload.name,
                dry_run=form.cleaned_data["dry_run"],
            )
        except ImportBusy:
            messages.error(request, busy_message())
            return render(
                request,
                "personnel/import.html",
                {"form": form, "columns_help": COLUMNS_HELP},
                status=409,
            )
        return redirect("personnel-imports:job", pk=job.pk)
    recent = (
        ImportJob.objects.visible_to(request.user)
        .filter(user=request.user)
        .order_by("-created_at")[:5]
    )
    return render(
        request,
        "personnel/import.html",
        {"form": form, "columns_help": COLUMNS_HELP, "recent": recent},
    )


@require_GET
@administrator_required
def roster_job_page(request, pk):
    job = import_job_get(user=request.user, job_id=pk)
    return render(
        request,
        "personnel/import_job.html",
        {
            "job": job,
            "progress": import_job_progress(job),
            "active": job.status in ImportJob.ACTIVE,
        },
    )


@require_POST
@administrator_required
def roster_job_commit(request, pk):
    """Import for real the file of a dry run that found no error."""
    job = import_job_get(user=request.user, job_id=pk)
    if not (job.dry_run and job.status == ImportJob.Status.SUCCEEDED):
        return redirect("personnel-imports:job", pk=job.pk)
    try:
        committed = import_job_resubmit(user=request.user, job=job)
    except ImportBusy:
        messages.error(request, busy_message())
        return redirect("personnel-imports:job", pk=job.pk)
    return redirect("personnel-imports:job", pk=committed.pk)


@require_GET
@administrator_required
def roster_job_report(request, pk):
    return report_response(import_job_get(user=request.user, job_id=pk))


@require_GET
@login_required
def roster_export(request):
    if not (
        user_has_role(request.user, Role.ADMINISTRATOR)
        or user_has_role(request.user, Role.COMMANDER)
    ):
        raise PermissionDenied
    return export_response(request.user)
