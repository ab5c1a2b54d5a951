"""API for the grid-tree and household imports (administrators only): multipart upload in,
the same result the pages show out, 400 when the file has any error."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role, user_has_role
from gridcmd.tabular import CellError
from grids.importing import ImportResult, grid_tree_import, household_import


class IsAdministrator(BasePermission):
    def has_permission(self, request, view):
        return user_has_role(request.user, Role.ADMINISTRATOR)


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(
        allow_null=True,
        help_text="1-based spreadsheet row (the header is row 1); null for file-level errors",
    )
    column = serializers.CharField(help_text="the column as the file names it, or file/boundaries")
    message = serializers.CharField(help_text="中文 / English")


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    errors = ImportErrorSerializer(many=True)


class HouseholdImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX")
    dry_run = serializers.BooleanField(default=False, help_text="validate and count only")


class GridImportInputSerializer(HouseholdImportInputSerializer):
    boundaries = serializers.FileField(
        required=False, help_text="GeoJSON FeatureCollection, `code` property per feature"
    )


def _respond(result: ImportResult) -> Response:
    data = ImportResultSerializer(result.as_dict()).data
    return Response(
        data, status=status.HTTP_400_BAD_REQUEST if result.errors else status.HTTP_200_OK
    )


def _input_errors(serializer, dry_run=False) -> Response:
    errors = [
        CellError(None, field, str(message))
        for field, messages in serializer.errors.items()
        for message in messages
    ]
    return _respond(ImportResult(dry_run=dry_run, errors=errors))


class GridImportApi(APIView):
    permission_classes = [IsAuthenticated, IsAdministrator]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="imports_grids_create",
        summary="Import the grid tree from a spreadsheet",
        request={"multipart/form-data": GridImportInputSerializer},
        responses={200: ImportResultSerializer, 400: ImportResultSerializer},
        tags=["imports"],
    )
    def post(self, request):
        serializer = GridImportInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _input_errors(serializer)
        data = serializer.validated_data
        result = grid_tree_import(
            file=data["file"],
            filename=data["file"].name,
            boundaries=data.get("boundaries"),
            user=request.user,
            dry_run=data["dry_run"],
        )
        return _respond(result)


class HouseholdImportApi(APIView):
    permission_classes = [IsAuthenticated, IsAdministrator]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="imports_households_create",
        summary="Import households from a spreadsheet",
        request={"multipart/form-data": HouseholdImportInputSerializer},
        responses={200: ImportResultSerializer, 400: ImportResultSerializer},
        tags=["imports"],
    )
    def post(self, request):
        serializer = HouseholdImportInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _input_errors(serializer)
        data = serializer.validated_data
        result = household_import(
            file=data["file"],
            filename=data["file"].name,
            user=request.user,
            dry_run=data["dry_run"],
        )
        return _respond(result)
