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

for _app in ("documents", "qa", "adapters", "chat"):
    try:
        urlpatterns.append(path("", include(f"docsbot.{_app}.urls")))
    except ModuleNotFoundError as exc:
        if exc.name != f"docsbot.{_app}.urls":
            raise
