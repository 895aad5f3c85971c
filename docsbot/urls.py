from django.contrib import admin
from django.urls import include, path

from docsbot.api import api
from docsbot.core import views as core_views

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("health/detail", core_views.health_detail, name="health-detail"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

urlpatterns += [path("", include(f"docsbot.{app}.urls")) for app in ("documents", "chat")]
