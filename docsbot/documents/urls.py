from django.urls import path

from docsbot.documents import views

app_name = "documents"
urlpatterns = [
    path("documents/upload/", views.upload_page, name="upload"),
    path("documents/upload/submit", views.upload_submit, name="upload-submit"),
    path("documents/teams/<int:team_id>/resync", views.resync, name="resync"),
    path("documents/runs/<int:run_id>.json", views.run_status, name="run-status"),
    path("documents/runs.json", views.recent_runs, name="recent-runs"),
]
