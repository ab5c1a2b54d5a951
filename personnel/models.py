"""People, organisations and the responsibility chain (包保责任链).

A Person holds Assignments: a named role on a grid, along one of the four responsibility
axes (四方责任), for a span of dates. Roles, team templates and pioneer-post types are data
an administrator can extend. Rules that span rows (one active grid chief, no overlapping
spans, a 包保 leader one level up) are kept by personnel.services under a row lock on the
grid; rules within a row are database constraints here.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from grids.models import GridNode
from grids.scoping import ScopedQuerySet


class OrganisationType(models.TextChoices):
    ORGAN = "organ", _("party or government organ")
    PUBLIC_SECURITY = "public_security", _("public security")
    HEALTH = "health", _("health")
    MARKET_SUPERVISION = "market_supervision", _("market supervision")
    TRANSPORT = "transport", _("transport")
    ENTERPRISE = "enterprise", _("enterprise")
    SCHOOL = "school", _("school")
    COMMUNITY = "community", _("community")
    VOLUNTEER = "volunteer", _("volunteer organisation")
    OTHER = "other", _("other")


class PoliticalStatus(models.TextChoices):
    PARTY_MEMBER = "party_member", _("CPC member")
    PROBATIONARY = "probationary", _("probationary CPC member")
    LEAGUE_MEMBER = "league_member", _("Communist Youth League member")
    DEMOCRATIC_PARTY = "democratic_party", _("democratic party member")
    NON_PARTISAN = "non_partisan", _("non-partisan")
    MASSES = "masses", _("ordinary citizen")


PARTY_STATUSES = (PoliticalStatus.PARTY_MEMBER, PoliticalStatus.PROBATIONARY)


class Axis(models.TextChoices):
    """四方责任: the four parties answerable for every grid."""

    TERRITORIAL = "territorial", _("territorial")
    DEPARTMENT = "department", _("department")
    UNIT = "unit", _("work unit")
    INDIVIDUAL = "individual", _("individual")


class OrganisationQuerySet(ScopedQuerySet):
    path_field = "registered_grid__path"


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(
        _("type"), max_length=32, choices=OrganisationType.choices, default=OrganisationType.OTHER
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    home_grid = models.ForeignKey(
        GridNode,
        verbose_name=_("home grid"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("For a work unit: the grid it forms."),
    )
    # The jurisdiction it was registered in; scoping follows it.
    registered_grid = models.ForeignKey(GridNode, on_delete=models.PROTECT, related_name="+")

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["registered_grid", "name"], name="organisation_name_unique_in_grid"
            ),
            models.CheckConstraint(
                condition=~Q(parent=F("id")), name="organisation_not_own_parent"
            ),
        ]

    def __str__(self):
        return self.name


class PersonQuerySet(ScopedQuerySet):
    path_field = "registered_grid__path"

    def in_subtree(self, prefix: str):
        """People registered under the path prefix, or holding an assignment (current or
        past) on a grid under it: a sent-down cadre registered at the city belongs to the
        village roster they serve on (docs/adr/0007)."""
        on_grid = Assignment.objects.filter(grid__path__startswith=prefix).values("person_id")
        return self.filter(Q(registered_grid__path__startswith=prefix) | Q(pk__in=on_grid))


class Person(models.Model):
    name = models.CharField(_("name"), max_length=50)
    mobile = models.CharField(_("mobile"), max_length=11, blank=True, db_index=True)
    id_number = models.CharField(_("identity number"), max_length=18, null=True, blank=True)  # noqa: DJ001  NULL, not "", so the unique constraint ignores the unknown
    political_status = models.CharField(
        _("political status"),
        max_length=32,
        choices=PoliticalStatus.choices,
        default=PoliticalStatus.MASSES,
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="people",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
    )
    # The jurisdiction the person was registered in; scoping follows it (and assignments).
    registered_grid = models.ForeignKey(GridNode, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["name", "pk"]
        permissions = [("view_personal_data", _("Can see full identity and mobile numbers"))]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number"],
                condition=Q(id_number__isnull=False),
                name="person_id_number_unique",
            ),
            models.CheckConstraint(
                condition=~Q(id_number=""), name="person_id_number_null_not_blank"
            ),
            models.CheckConstraint(
                condition=~Q(mobile="") | Q(id_number__isnull=False), name="person_identifiable"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_party_member(self) -> bool:
        return self.political_status in PARTY_STATUSES


class Role(models.Model):
    """A role on a grid team (网格长, 专职网格员, 医生, ...). Data, so an administrator can add
    roles; `code` is what imports and templates refer to."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=32, unique=True)
    name_en = models.CharField(_("English name"), max_length=64)
    is_grid_chief = models.BooleanField(_("grid chief"), default=False)
    is_baobao_leader = models.BooleanField(_("包保 leader"), default=False)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["sort_order", "code"]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh


class AssignmentQuerySet(ScopedQuerySet):
    path_field = "grid__path"

    def active_on(self, day):
        return self.filter(start_date__lte=day).filter(
            Q(end_date__isnull=True) | Q(end_date__gte=day)
        )


class Assignment(models.Model):
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="assignments"
    )
    grid = models.ForeignKey(
        GridNode, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="assignments"
    )
    role = models.ForeignKey(
        Role, verbose_name=_("role"), on_delete=models.PROTECT, related_name="assignments"
    )
    axis = models.CharField(
        _("responsibility axis"), max_length=16, choices=Axis.choices, default=Axis.TERRITORIAL
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    sent_down = models.BooleanField(_("sent down (下沉)"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["grid__path", "role__sort_order", "start_date"]
        indexes = [
            models.Index(fields=["grid", "role", "start_date"], name="assignment_grid_role_idx"),
            models.Index(fields=["person", "start_date"], name="assignment_person_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="assignment_dates_ordered",
            ),
            models.CheckConstraint(
                condition=Q(axis__in=[a.value for a in Axis]), name="assignment_axis_valid"
            ),
        ]

    def __str__(self):
        return f"{self.person} · {self.role} · {self.grid}"


class AuditEvent(models.Model):
    """Who saw a full identity or mobile number, or exported them, and when."""

    class Action(models.TextChoices):
        VIEW_PERSONAL_DATA = "view_personal_data", _("viewed full personal data")
        EXPORT_PERSONAL_DATA = "export_personal_data", _("exported full personal data")

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=32, choices=Action.choices)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.action} {self.at:%Y-%m-%d %H:%M}"


class TeamTemplate(models.Model):
    """A team formula such as "1+1+N+K": which grids it applies to and, per role, how many
    people it needs. A requirement with no count needs N, set per template. "+K" (each
    checkpoint manned) is filled by a requirement provider registered with
    personnel.compliance, so a checkpoint model can plug in without changing this one."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    levels = models.JSONField(
        _("levels"), default=list, help_text=_("Grid levels it applies to (1–5).")
    )
    categories = models.JSONField(
        _("categories"), default=list, blank=True, help_text=_("Empty means all.")
    )
    kinds = models.JSONField(_("kinds"), default=list, blank=True, help_text=_("Empty means all."))
    n = models.PositiveSmallIntegerField(
        _("N"), default=1, help_text=_("The count that N stands for.")
    )
    requires_checkpoints = models.BooleanField(_("+K: every checkpoint manned"), default=False)

    class Meta:
        verbose_name = _("team template")
        verbose_name_plural = _("team templates")
        ordering = ["name"]

    def __str__(self):
        return self.name


class TeamRequirement(models.Model):
    template = models.ForeignKey(
        TeamTemplate, on_delete=models.CASCADE, related_name="requirements"
    )
    role = models.ForeignKey(
        Role, verbose_name=_("role"), on_delete=models.PROTECT, related_name="+"
    )
    min_count = models.PositiveSmallIntegerField(
        _("minimum"), null=True, blank=True, help_text=_("Empty means N.")
    )

    class Meta:
        verbose_name = _("team requirement")
        verbose_name_plural = _("team requirements")
        constraints = [
            models.UniqueConstraint(
                fields=["template", "role"], name="team_requirement_unique_role"
            )
        ]

    def __str__(self):
        return f"{self.template_id}: {self.role_id}"

    def required(self) -> int:
        return self.template.n if self.min_count is None else self.min_count


class PostType(models.Model):
    """先锋岗: the pioneer posts party members claim (秩序维护, 便民服务, ...). Data."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=32, unique=True)
    name_en = models.CharField(_("English name"), max_length=64)

    class Meta:
        verbose_name = _("pioneer post type")
        verbose_name_plural = _("pioneer post types")
        ordering = ["code"]

    def __str__(self):
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh


class PostClaimQuerySet(ScopedQuerySet):
    path_field = "grid__path"


class PostClaim(models.Model):
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="post_claims"
    )
    grid = models.ForeignKey(
        GridNode, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="post_claims"
    )
    post_type = models.ForeignKey(
        PostType, verbose_name=_("post type"), on_delete=models.PROTECT, related_name="claims"
    )
    claimed_on = models.DateField(_("claimed on"))
    released_on = models.DateField(_("released on"), null=True, blank=True)

    objects = PostClaimQuerySet.as_manager()

    class Meta:
        verbose_name = _("pioneer post claim")
        verbose_name_plural = _("pioneer post claims")
        constraints = [
            models.CheckConstraint(
                condition=Q(released_on__isnull=True) | Q(released_on__gte=F("claimed_on")),
                name="post_claim_dates_ordered",
            ),
            models.UniqueConstraint(
                fields=["person", "grid", "post_type"],
                condition=Q(released_on__isnull=True),
                name="post_claim_one_open",
            ),
        ]

    def __str__(self):
        return f"{self.person_id} · {self.post_type_id} · {self.grid_id}"


class ImportJobQuerySet(ScopedQuerySet):
    # A job is seen within the importer's jurisdiction; a full-access job (no
    # jurisdiction) only by superusers.
    path_field = "jurisdiction__path"


class ImportJob(models.Model):
    """One roster upload: its file, where it may write, its progress and its outcome.

    At most one queued or running job per kind and jurisdiction (`lock_key`): the partial
    unique constraint is the lock (docs/adr/0008-roster-import-jobs.md)."""

    class Kind(models.TextChoices):
        PERSONNEL = "personnel", _("personnel roster")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSONNEL)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Null: full access (a superuser, or the operator at the shell).
    jurisdiction = models.ForeignKey(
        GridNode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lock_key = models.CharField(
        max_length=300, help_text="The jurisdiction's path, or '/' for full access."
    )
    dry_run = models.BooleanField(default=False)
    file = models.FileField(upload_to="imports/personnel/%Y/%m/")
    filename = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "lock_key"],
                condition=Q(status__in=["queued", "running"]),
                name="importjob_one_active_per_jurisdiction",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="importjob_progress_percent"
            ),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk} {self.status}"
