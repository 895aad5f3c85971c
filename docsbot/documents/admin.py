from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from docsbot.documents.models import Chunk, Document, IngestRun
from docsbot.teams.admin_scope import TeamScopedAdmin


@admin.register(Document)
class DocumentAdmin(TeamScopedAdmin):
    list_display = ["source_path", "title", "team", "format", "status", "duplicate_of", "updated"]
    list_filter = ["team", "status", "format"]
    search_fields = ["source_path", "title"]
    readonly_fields = [f.name for f in Document._meta.fields]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "upload_url": reverse("documents:upload")}
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False


@admin.register(Chunk)
class ChunkAdmin(TeamScopedAdmin):
    list_display = ["document", "ordinal", "anchor", "token_count"]
    list_filter = ["team"]
    search_fields = ["text"]
    readonly_fields = ["team", "document", "ordinal", "heading_path", "anchor", "text", "token_count",
                       "content_hash", "created"]

    def has_add_permission(self, request):
        return False


@admin.register(IngestRun)
class IngestRunAdmin(TeamScopedAdmin):
    list_display = ["id", "team", "origin", "outcome", "processed", "total", "created", "upload_link"]
    list_filter = ["team", "status", "origin"]
    readonly_fields = [f.name for f in IngestRun._meta.fields]

    class Media:
        js = ["core/live_changelist.js"]  # the list's progress moves while a row is queued or running

    @admin.display(description="upload page")
    def upload_link(self, obj):
        return format_html('<a href="{}">upload / progress</a>', reverse("documents:upload"))

    def has_add_permission(self, request):
        return False
