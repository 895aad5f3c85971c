"""One team scope for every admin page.

A staff user manages only the teams they own or administer (``teams_administered``); a
superuser manages every team. ``TeamScopedAdmin`` applies that scope to everything a
ModelAdmin shows or accepts:

- the change list, search, actions and ``list_editable`` (``get_queryset``);
- object pages by id (change, delete, history): another team's id is a 404, the same as an
  id that does not exist, so ids cannot be probed;
- foreign-key and many-to-many choices, raw-id fields included: a Team field offers only the
  user's teams, a field to a model with a ``team`` offers only rows of those teams, so a form
  posted with another team's id is refused by validation, and a raw-id field given another team's
  id (in a URL or a post) shows no label for it;
- list filters on relations list only values found in the user's rows (superusers: all).

Every ModelAdmin whose model belongs to a team must use it (a test enumerates the admin site).
Custom views added with ``admin_view`` must scope by ``teams_administered`` too and check the
model permission they need; ``admin_view`` itself checks only the staff flag.
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from docsbot.teams.models import Team
from docsbot.teams.selectors import teams_administered


def team_lookup(model: type[Model]) -> str | None:
    """The lookup from a model to its team: "pk" for Team, "team" for a model with a team field."""
    if model is Team:
        return "pk"
    try:
        field = model._meta.get_field("team")
    except FieldDoesNotExist:
        return None
    return "team" if getattr(field, "related_model", None) is Team else None


def team_scoped(queryset: QuerySet, *, user, lookup: str | None = None) -> QuerySet:
    """Rows of ``queryset`` that belong to the teams ``user`` administers (all for a superuser)."""
    lookup = lookup or team_lookup(queryset.model)
    if lookup is None:
        raise ValueError(f"{queryset.model.__name__} has no team to scope by")
    if user.is_active and user.is_superuser:
        return queryset
    return queryset.filter(**{f"{lookup}__in": teams_administered(user=user).values("pk")})


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id widget that labels only ids of ``queryset``: Django's own looks the label up with the
    model's unscoped manager, so ``?chunk=<another team's id>`` on an add page showed that row's title."""

    def __init__(self, rel, admin_site, *, queryset: QuerySet, **kwargs):
        super().__init__(rel, admin_site, **kwargs)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            visible = self.queryset.filter(**{key: value}).exists()
        except (ValueError, TypeError, ValidationError):
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


class TeamScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin that shows, opens and offers only the rows of the user's teams."""

    team_lookup: str | None = None  # from this model to Team; found from a ``team`` field when None

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return team_scoped(super().get_queryset(request), user=request.user,
                           lookup=self.team_lookup or team_lookup(self.model))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:  # absent, or another team's: the same answer for both
            raise Http404(f"no {self.opts.verbose_name} with id {object_id!r} in your teams")
        return obj

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if "widget" not in kwargs and db_field.name in self.raw_id_fields:
            queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
            if queryset is not None:
                kwargs["widget"] = ScopedRawIdWidget(db_field.remote_field, self.admin_site, queryset=queryset,
                                                     using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_field_queryset(self, db, db_field, request: HttpRequest):
        queryset = super().get_field_queryset(db, db_field, request)
        related = db_field.remote_field.model
        if team_lookup(related) is None:
            return queryset
        if queryset is None:
            queryset = related._default_manager.using(db)
        return team_scoped(queryset, user=request.user)

    def get_list_filter(self, request: HttpRequest):
        if request.user.is_superuser:
            return super().get_list_filter(request)
        return [_related_only(self.model, spec) for spec in super().get_list_filter(request)]


def _related_only(model: type[Model], spec):
    """A list filter on a relation lists only the related rows present in the scoped queryset."""
    if not isinstance(spec, str):
        return spec
    try:
        field = get_fields_from_path(model, spec)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return spec
    if getattr(field, "is_relation", False):
        return (spec, admin.RelatedOnlyFieldListFilter)
    return spec
