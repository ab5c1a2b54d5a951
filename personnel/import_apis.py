"""API for the roster import (administrators only) and the roster export.

POST /api/v1/imports/personnel/       multipart file + dry_run -> the job: 200 when it ran
                                       and the file is good, 400 when it has errors, 202 when
                                       it was queued (large file), 409 when another import
                                       runs in the jurisdiction.
GET  /api/v1/imports/jobs/{id}/        status and progress
GET  /api/v1/imports/jobs/{id}/report/ the XLSX error report
GET  /api/v1/exports/personnel/        the roster as XLSX, masked unless permitted
"""

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role, user_has_role
from gridcmd.i18n import bilingual
from grids.import_apis import ImportErrorSerializer, IsAdministrator  # shared by every import
from personnel.exporting import roster_export_xlsx
from personnel.importing import error_report_xlsx
from personnel.jobs import ImportBusy, import_job_get, import_job_progress, import_job_submit
from personnel.models import ImportJob

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CanExportRoster(BasePermission):
    def has_permission(self, request, view):
        return user_has_role(request.user, Role.ADMINISTRATOR) or user_has_role(
            request.user, Role.COMMANDER
        )


class ImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=ImportJob.Status.choices)
    progress = serializers.SerializerMethodField(help_text="0–100")
    dry_run = serializers.BooleanField()
    filename = serializers.CharField()
    result = serializers.JSONField(
        help_text="rows, rejected, people and assignments {created, updated, unchanged}, organisations_created, written"
    )
    errors = ImportErrorSerializer(many=True)
    report_url = serializers.SerializerMethodField(
        help_text="the XLSX error report, when there are errors"
    )
    url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_progress(self, job) -> int:
        return import_job_progress(job)

    def get_report_url(self, job) -> str | None:
        if not job.errors:
            return None
        return reverse("personnel-imports-api:job-report", args=[job.pk])

    def get_url(self, job) -> str:
        return reverse("personnel-imports-api:job", args=[job.pk])


class RosterImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX")
    dry_run = serializers.BooleanField(default=False, help_text="validate and count only")


class BusySerializer(serializers.Serializer):
    detail = serializers.CharField()
    job = serializers.IntegerField(allow_null=True)


def busy_message():
    return bilingual(
        _("Another roster import is running in this jurisdiction; try again when it has finished.")
    )


class RosterImportApi(APIView):
    permission_classes = [IsAuthenticated, IsAdministrator]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="imports_personnel_create",
        summary="Import a personnel roster from a spreadsheet",
        request={"multipart/form-data": RosterImportInputSerializer},
        responses={
            200: ImportJobSerializer,
            202: ImportJobSerializer,
            400: ImportJobSerializer,
            409: BusySerializer,
        },
        tags=["imports"],
    )
    def post(self, request):
        serializer = RosterImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        try:
            job = import_job_submit(
                user=request.user,
                file=upload,
                filename=upload.name,
                dry_run=serializer.validated_data["dry_run"],
            )
        except ImportBusy as busy:
            return Response(
                {"detail": busy_message(), "job": busy.job.pk if busy.job else None},
                status=status.HTTP_409_CONFLICT,
            )
        data = ImportJobSerializer(job).data
        if job.status in ImportJob.ACTIVE:
            return Response(
                data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]}
            )
        code = (
            status.HTTP_200_OK
            if job.status == ImportJob.Status.SUCCEEDED
            else status.HTTP_400_BAD_REQUEST
        )
        return Response(data, status=code)


class ImportJobApi(APIView):
    permission_classes = [IsAuthenticated, IsAdministrator]

    @extend_schema(
        operation_id="imports_jobs_retrieve",
        summary="An import job's status and progress",
        responses={200: ImportJobSerializer},
        tags=["imports"],
    )
    def get(self, request, pk: int):
        return Response(ImportJobSerializer(import_job_get(user=request.user, job_id=pk)).data)


class ImportJobReportApi(APIView):
    permission_classes = [IsAuthenticated, IsAdministrator]

    @extend_schema(
        operation_id="imports_jobs_report_retrieve",
        summary="The XLSX error report: the file's rows with an errors column",
        responses={(200, XLSX): OpenApiTypes.BINARY},
        tags=["imports"],
    )
    def get(self, request, pk: int):
        return report_response(import_job_get(user=request.user, job_id=pk))


def report_response(job: ImportJob) -> HttpResponse:
    """Shared by the API and the page."""
    if not job.errors:
        raise Http404
    with job.file.open("rb") as stored:
        content = error_report_xlsx(stored, job.errors, filename=job.filename)
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="roster-errors-{job.pk}.xlsx"'
    return response


class RosterExportApi(APIView):
    permission_classes = [IsAuthenticated, CanExportRoster]

    @extend_schema(
        operation_id="exports_personnel_retrieve",
        summary="The roster of the user's jurisdiction as XLSX (masked unless permitted; full exports are audited)",
        responses={(200, XLSX): OpenApiTypes.BINARY},
        tags=["exports"],
    )
    def get(self, request):
        return export_response(request.user)


def export_response(user) -> HttpResponse:
    response = HttpResponse(roster_export_xlsx(user=user), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="roster.xlsx"'
    return response
