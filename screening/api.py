"""The checks API: thin adapters over screening.services and screening.selectors.

A check's JSON is parsed by parse_check(), one plain function shared by the single and the
batch endpoints: a DRF serializer per item costs more than the whole database work of a
1,000-check batch, and the batch must take thousands of checks a second. The serializers
below describe the same fields for the OpenAPI schema (tests/test_checks_api.py keeps the
two in step) and render the output.

Scoping: reads go through check_list/check_get (jurisdiction plus one's own checks; 404
otherwise); writes through the services, which apply worker_grids().
"""

import datetime
import uuid as uuid_module

from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from gridcmd.api import SharedRepresentation
from gridcmd.i18n import bilingual
from grids.models import GridNode
from grids.scoping import path_in_jurisdiction
from grids.selectors import grid_get

from .metrics import METRIC_NAMES, METRICS
from .models import Check, Method, ZeroReport
from .selectors import check_get, check_list, check_list_days, worker_grids
from .services import (
    MAX_COUNT,
    METHODS,
    NOTE_MAX,
    REASON_MAX,
    BatchStatus,
    CheckInput,
    check_correct,
    check_submit_batch,
    check_void,
    stored_check,
    zero_report_file,
)
from .stats import MAX_SERIES_DAYS

TAGS = ["checks"]
#: The most checks one batch request may carry.
BATCH_MAX = 1000
HOUSEHOLD_CODE_MAX = 32

CREATE_FIELDS = frozenset({"uuid", "household", "checked_at", "method", "note", *METRIC_NAMES})
CORRECT_FIELDS = frozenset({"method", "note", *METRIC_NAMES})


# --- Parsing ----------------------------------------------------------------------------------


def _msg(message, **params) -> list[str]:
    return [bilingual(message, **params)]


def parse_check(raw, *, partial: bool = False) -> tuple[dict, dict[str, list[str]]]:
    """Turn one check's JSON into typed values and field errors (bilingual). With
    partial=True (a correction) only method, note and counts are accepted, all optional.
    The domain rules (ranges, one count within another, dates) are the service's."""
    if not isinstance(raw, dict):
        return {}, {"non_field_errors": _msg(_("Expected an object with the check's fields."))}
    allowed = CORRECT_FIELDS if partial else CREATE_FIELDS
    values: dict = {"counts": {}}
    errors: dict[str, list[str]] = {}
    for name in raw:
        if name not in allowed:
            errors[str(name)[:40]] = _msg(_("Unknown field."))

    if not partial:
        value = raw.get("uuid")
        try:
            values["uuid"] = uuid_module.UUID(str(value)) if value not in (None, "") else None
        except ValueError:
            values["uuid"] = None
            errors["uuid"] = _msg(_("Not a valid UUID."))
        if value in (None, ""):
            errors["uuid"] = _msg(_("Required: a UUID made by the client for this submission."))
        value = raw.get("household")
        if not isinstance(value, str) or not value.strip():
            errors["household"] = _msg(_("Required: the household's code."))
        elif len(value) > HOUSEHOLD_CODE_MAX:
            errors["household"] = _msg(_('No household with the code "%(code)s".'), code=value[:40])
        else:
            values["household_code"] = value.strip()
        value = raw.get("checked_at")
        if value not in (None, ""):
            moment = parse_datetime(value) if isinstance(value, str) else None
            if moment is None:
                errors["checked_at"] = _msg(
                    _("Not a date and time: use ISO 8601, e.g. 2022-02-10T09:30:00+08:00.")
                )
            else:
                if timezone.is_naive(moment):
                    moment = timezone.make_aware(moment)  # local time, Asia/Shanghai
                values["checked_at"] = moment

    if "method" in raw:
        if raw["method"] not in METHODS:
            errors["method"] = _msg(
                _('Unknown method "%(value)s": use visit or phone.'), value=str(raw["method"])[:20]
            )
        else:
            values["method"] = raw["method"]
    if "note" in raw:
        if not isinstance(raw["note"], str):
            errors["note"] = _msg(_("Must be text."))
        else:
            values["note"] = raw["note"].strip()
    for name in METRIC_NAMES:
        if name not in raw:
            continue
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            errors[name] = _msg(_("Must be a whole number from 0 to %(max)s."), max=MAX_COUNT)
        else:
            values["counts"][name] = value
    return values, errors


def _input(values: dict) -> CheckInput:
    return CheckInput(
        uuid=values["uuid"],
        household_code=values["household_code"],
        checked_at=values.get("checked_at"),
        method=values.get("method", Method.VISIT),
        note=values.get("note", ""),
        counts=values["counts"],
    )


# --- Serializers (output, and the schema of the input) ------------------------------------------


def _metric_fields(**options) -> dict:
    return {
        m.name: serializers.IntegerField(
            min_value=0, max_value=MAX_COUNT, help_text=m.label, **options
        )
        for m in METRICS
    }


CheckInputSerializer = type(
    "CheckInputSerializer",
    (serializers.Serializer,),
    {
        "uuid": serializers.UUIDField(
            help_text=_(
                "Made by the client (e.g. crypto.randomUUID()). Sending the same UUID again "
                "returns the stored check, even if the rest differs."
            )
        ),
        "household": serializers.CharField(
            max_length=HOUSEHOLD_CODE_MAX, help_text=_("The household's code.")
        ),
        "checked_at": serializers.DateTimeField(
            required=False,
            help_text=_(
                "When the check was made (default: now); its local date is the check's date."
            ),
        ),
        "method": serializers.ChoiceField(choices=Method.choices, default=Method.VISIT),
        "note": serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True),
        **_metric_fields(default=0),
    },
)

CheckCorrectionSerializer = type(
    "CheckCorrectionSerializer",
    (serializers.Serializer,),
    {
        "method": serializers.ChoiceField(choices=Method.choices, required=False),
        "note": serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True),
        **_metric_fields(required=False),
    },
)


class CheckSerializer(SharedRepresentation, serializers.ModelSerializer):
    household = serializers.CharField(source="household.code", read_only=True)
    grid = serializers.CharField(source="grid.code", read_only=True)
    worker = serializers.CharField(source="worker.get_username", read_only=True)

    class Meta:
        model = Check
        fields = [
            "id",
            "uuid",
            "household",
            "grid",
            "worker",
            "checked_on",
            "checked_at",
            "method",
            "note",
            *METRIC_NAMES,
            "voided_at",
            "void_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CheckBatchSerializer(serializers.Serializer):
    checks = CheckInputSerializer(many=True, max_length=BATCH_MAX)


class CheckBatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the item in the request."))
    uuid = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(
        choices=[BatchStatus.CREATED, BatchStatus.EXISTS, BatchStatus.ERROR]
    )
    id = serializers.IntegerField(required=False, help_text=_("The stored check's id."))
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=_("Field errors of an item whose status is error."),
    )


class CheckBatchResponseSerializer(serializers.Serializer):
    results = CheckBatchResultSerializer(many=True)


def _validate_span(self, attrs):
    if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
        raise ValidationError({"to": _msg(_("Must not be before from."))})
    days = len(check_list_days(date_from=attrs.get("from"), date_to=attrs.get("to")))
    if days > MAX_SERIES_DAYS:
        raise ValidationError(
            {"from": _msg(_("At most %(max)s days at a time."), max=MAX_SERIES_DAYS)}
        )
    return attrs


# Built with type(): "from" is a Python keyword, and the query parameter's name.
CheckFilterSerializer = type(
    "CheckFilterSerializer",
    (serializers.Serializer,),
    {
        "grid": serializers.CharField(
            required=False, max_length=32, help_text=_("A grid's code: checks in its subtree.")
        ),
        "date": serializers.DateField(required=False, help_text=_("Checks of this local date.")),
        "from": serializers.DateField(
            required=False,
            help_text=_(
                "Checks from this local date (inclusive). Without date, from and to: the "
                "last 14 days. A span covers at most 366 days."
            ),
        ),
        "to": serializers.DateField(
            required=False,
            help_text=_(
                "Checks up to this local date (inclusive; default today). With to alone: "
                "the 14 days up to it."
            ),
        ),
        "validate": _validate_span,
    },
)


class CheckVoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX, help_text=_("Why the check is voided."))


class ZeroReportInputSerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text=_("The local date (default today)."))
    note = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True)


class ZeroReportSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="grid.code", read_only=True)
    date = serializers.DateField(source="reported_on", read_only=True)
    reporter = serializers.CharField(source="reporter.get_username", read_only=True)

    class Meta:
        model = ZeroReport
        fields = ["grid", "date", "reporter", "note", "created_at"]
        read_only_fields = fields


# --- Views ------------------------------------------------------------------------------------

ERROR_400 = OpenApiResponse(description=_("Field errors, each message in Chinese and English."))


class CheckListCreateApi(generics.ListAPIView):
    serializer_class = CheckSerializer
    filter_backends: list = []  # filters are the selector's arguments

    @extend_schema(tags=TAGS, parameters=[CheckFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = {k: v for k, v in self.request.query_params.items() if v != ""}
        filters = CheckFilterSerializer(data=query)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        grid = grid_get(user=self.request.user, code=data["grid"]) if "grid" in data else None
        return check_list(
            user=self.request.user,
            grid=grid,
            day=data.get("date"),
            date_from=data.get("from"),
            date_to=data.get("to"),
        )

    @extend_schema(
        tags=TAGS,
        request=CheckInputSerializer,
        responses={
            201: CheckSerializer,
            200: OpenApiResponse(CheckSerializer, description=_("That UUID is already stored.")),
            400: ERROR_400,
        },
    )
    def post(self, request):
        values, errors = parse_check(request.data)
        if errors:
            raise ValidationError(errors)
        (result,) = check_submit_batch(user=request.user, items=[_input(values)])
        if result.status == BatchStatus.ERROR:
            raise ValidationError(result.errors)
        check = stored_check(result, user=request.user)
        code = (
            status.HTTP_201_CREATED if result.status == BatchStatus.CREATED else status.HTTP_200_OK
        )
        return Response(CheckSerializer.represent(check), status=code)


class CheckBatchApi(generics.GenericAPIView):
    serializer_class = CheckBatchResponseSerializer

    @extend_schema(
        tags=TAGS,
        request=CheckBatchSerializer,
        responses={200: CheckBatchResponseSerializer, 400: ERROR_400},
        summary=_("Submit up to 1,000 checks; one result per item"),
    )
    def post(self, request):
        raw = request.data.get("checks") if isinstance(request.data, dict) else None
        if not isinstance(raw, list) or not raw:
            raise ValidationError({"checks": _msg(_("Required: a list of checks."))})
        if len(raw) > BATCH_MAX:
            raise ValidationError(
                {"checks": _msg(_("At most %(max)s checks per request."), max=BATCH_MAX)}
            )
        results: list[dict | None] = [None] * len(raw)
        good: list[tuple[int, CheckInput]] = []
        for index, item in enumerate(raw):
            values, errors = parse_check(item)
            if errors:
                results[index] = {
                    "index": index,
                    "uuid": str(values["uuid"]) if values.get("uuid") else None,
                    "status": BatchStatus.ERROR,
                    "errors": errors,
                }
            else:
                good.append((index, _input(values)))
        if good:
            stored = check_submit_batch(user=request.user, items=[item for _i, item in good])
            for (index, _item), result in zip(good, stored, strict=True):
                row = {"index": index, "uuid": str(result.uuid), "status": result.status}
                if result.status == BatchStatus.ERROR:
                    row["errors"] = result.errors
                else:
                    row["id"] = result.check_id
                results[index] = row
        return Response({"results": results})


class CheckDetailApi(generics.GenericAPIView):
    serializer_class = CheckSerializer

    @extend_schema(tags=TAGS)
    def get(self, request, uuid):
        return Response(CheckSerializer.represent(check_get(user=request.user, uuid=uuid)))

    @extend_schema(
        tags=TAGS,
        request=CheckCorrectionSerializer,
        responses={200: CheckSerializer, 400: ERROR_400},
        summary=_("Correct a check (its author, on the day it was made)"),
    )
    def patch(self, request, uuid):
        check = check_get(user=request.user, uuid=uuid)
        values, errors = parse_check(request.data, partial=True)
        if errors:
            raise ValidationError(errors)
        check = check_correct(
            user=request.user,
            check=check,
            counts=values["counts"],
            method=values.get("method"),
            note=values.get("note"),
        )
        return Response(CheckSerializer.represent(check_get(user=request.user, uuid=check.uuid)))


class CheckVoidApi(generics.GenericAPIView):
    serializer_class = CheckVoidSerializer

    @extend_schema(
        tags=TAGS,
        request=CheckVoidSerializer,
        responses={200: CheckSerializer, 400: ERROR_400},
        summary=_("Void a check: it stays on record and leaves the totals"),
    )
    def post(self, request, uuid):
        check = check_get(user=request.user, uuid=uuid)
        data = CheckVoidSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check_void(user=request.user, check=check, reason=data.validated_data["reason"])
        return Response(CheckSerializer.represent(check_get(user=request.user, uuid=check.uuid)))


class ZeroReportApi(generics.GenericAPIView):
    serializer_class = ZeroReportSerializer

    @extend_schema(
        tags=TAGS,
        request=ZeroReportInputSerializer,
        responses={
            201: ZeroReportSerializer,
            200: OpenApiResponse(ZeroReportSerializer, description=_("Already filed that day.")),
            400: ERROR_400,
        },
        summary=_("File a zero report (零报告) for a grid and a day"),
    )
    def post(self, request, code):
        data = ZeroReportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        day = data.validated_data.get("date") or timezone.localdate()
        grid = _grid_for_writing(request.user, code, day)
        report, created = zero_report_file(
            user=request.user, grid=grid, day=day, note=data.validated_data.get("note", "")
        )
        report = ZeroReport.objects.select_related("grid", "reporter").get(pk=report.pk)
        return Response(
            ZeroReportSerializer(report).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _grid_for_writing(user, code: str, day: datetime.date) -> GridNode:
    """A grid the user may see or write for; 404 for any other, as if it did not exist."""
    node = GridNode.objects.defer("boundary").filter(code=code).first()
    if node is None:
        raise Http404
    if not path_in_jurisdiction(user, node.path) and not (
        worker_grids(user, on=day).filter(pk=node.pk).exists()
    ):
        raise Http404
    return node
