"""``make demo``: bring the whole embedded stack up and run the main job.

Starts Redis (unless REDIS_URL is set), a Celery worker per queue and the web
server, then runs the demo steps, prints the URLs and waits; Ctrl-C stops every
process it started.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from docsbot import embedded_redis
from docsbot.core.supervisor import Supervisor, python_command
from docsbot.teams.models import Membership, Team
from docsbot.teams.selectors import api_token_for
from docsbot.teams.services import api_token_create, membership_set, team_create, widget_key_create

DEMO_TEAM = "demo"
DEMO_QUESTION = "How do I upload documentation to docsbot?"
ENGINEERS_PAGES = {"architecture.md"}  # docs/ is the demo team's user documentation, but for this map
# SmolLM2 LoRA on the demo's ~40 pairs in RAFT variants: the split the gate judges, then (the gate
# passed) the same again on every pair (adapters.runner refit), each this many optimizer steps: a step
# count, not a time budget, so a slower CPU (float32 only) or a busy one trains the same adapter, only
# later. 2-4 s a step on 2 cores (README: measured runs); the cap is for a machine far slower.
DEMO_TRAINING_STEPS = 70
DEMO_TRAINING_MAX_SECONDS = 900


class Command(BaseCommand):
    help = "Run the demo: all services on the embedded defaults, Ctrl-C stops them."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-wait", action="store_true", help="stop after the steps instead of waiting")

    def handle(self, *args, port: int, no_wait: bool, **options):
        self.base_url = f"http://127.0.0.1:{port}"
        supervisor = Supervisor(log_dir=settings.DATA_DIR / "logs")
        previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            self.step("migrating the database")
            call_command("migrate", interactive=False, verbosity=0)
            credentials = self.ensure_demo_team()
            self.prepare_base_model()
            self.start_services(supervisor, port)
            self.wait_for_health(supervisor, credentials["health_token"])
            self.run_pipeline()
            self.print_summary(credentials, supervisor)
            if not no_wait:
                self.stdout.write("Press Ctrl-C to stop every process.")
                while True:
                    dead = supervisor.exited()
                    if dead:
                        names = ", ".join(f"{c.name} (log {c.log_path})" for c in dead)
                        raise CommandError(f"a process exited unexpectedly: {names}")
                    time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("\nstopping…")
        finally:
            supervisor.stop_all()
            signal.signal(signal.SIGTERM, previous)
            self.stdout.write("all demo processes stopped")

    def step(self, message: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {message}"))

    def ensure_demo_team(self) -> dict[str, str]:
        self.step("creating the demo team and admin user")
        credentials_file = settings.DATA_DIR / "demo_credentials.json"
        credentials = json.loads(credentials_file.read_text()) if credentials_file.exists() else {}
        team = Team.objects.filter(slug=DEMO_TEAM).first() or team_create(slug=DEMO_TEAM, name="Demo team")
        user_model = get_user_model()
        user = user_model.objects.filter(username="admin").first()
        if user is None or "password" not in credentials:
            credentials["username"] = "admin"
            credentials["password"] = secrets.token_urlsafe(12)
            if user is None:
                user = user_model.objects.create_superuser("admin", "admin@example.com", credentials["password"])
            else:
                user.set_password(credentials["password"])
                user.save()
        membership_set(team=team, user=user, role=Membership.Role.OWNER)
        if "api_token" not in credentials:
            credentials["api_token"] = api_token_create(team=team, name="demo").token
        if api_token_for(token=credentials.get("health_token", "")) is None:
            # /health/detail (workers, queues, serving) answers only staff or an admin-role token.
            credentials["health_token"] = api_token_create(team=team, name="demo health", role="admin").token
        if "widget_key" not in credentials:
            origin = f"http://127.0.0.1:{self.base_url.rsplit(':', 1)[1]}"
            credentials["widget_key"] = widget_key_create(
                team=team, allowed_origins=[origin, origin.replace("127.0.0.1", "localhost")], label="demo"
            ).key
        credentials_file.write_text(json.dumps(credentials, indent=2))
        credentials_file.chmod(0o600)
        return credentials

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a management command in a child process with the services' environment."""
        command = python_command(str(Path(settings.BASE_DIR) / "manage.py"), *args)
        result = subprocess.run(command, env={**os.environ, **self.env}, check=False)
        if check and result.returncode != 0:
            raise CommandError(f"`manage.py {' '.join(args)}` failed with exit code {result.returncode}")
        return result

    def prepare_base_model(self) -> None:
        from docsbot.core.serving import base_model_path

        self.env: dict[str, str] = {}
        if settings.BASE_MODEL:
            self.step(f"base model: {settings.BASE_MODEL} (DOCSBOT_BASE_MODEL)")
            return
        self.step(f"base model: SmolLM2-135M-Instruct in {base_model_path()} (converted once, under a minute)")
        self.manage("prepare_base_model")

    def run_pipeline(self) -> None:
        folder = Path(settings.BASE_DIR) / "docs"
        pages = [str(page) for page in sorted(folder.glob("*.md")) if page.name not in ENGINEERS_PAGES]
        self.step(f"ingesting the project's own documentation ({len(pages)} pages of {folder})")
        self.manage("ingest", "--team", DEMO_TEAM, *pages, "--sync")
        self.step("generating question-answer pairs")
        self.manage("generate_qa", "--team", DEMO_TEAM)
        self.step(f"training the demo team's adapter on the gpu queue (CPU here: {DEMO_TRAINING_STEPS} steps, "
                  "2.5-4 minutes on 2 cores with native bf16, ~1.4x that in float32; then the gate's evaluation and, "
                  "when it passes, as many steps again on every pair)")
        self.manage("train", "--team", DEMO_TEAM, "--wait", "--set", f"max_steps={DEMO_TRAINING_STEPS}",
                    "--set", f"time_budget_s={DEMO_TRAINING_MAX_SECONDS}")
        self.step("asking a question (the live model: the promoted adapter, else the base model)")
        self.manage("ask", "--team", DEMO_TEAM, DEMO_QUESTION)
        candidate = self.unpromoted_version()
        if candidate is not None:
            self.step(f"asking adapter v{candidate.number} too: the gate kept it as a candidate, so it does not "
                      "answer users yet")
            self.manage("ask", "--team", DEMO_TEAM, "--adapter-version", str(candidate.number), DEMO_QUESTION)

    def unpromoted_version(self):
        from docsbot.adapters.models import AdapterVersion

        latest = AdapterVersion.objects.filter(team__slug=DEMO_TEAM).order_by("-number").first()
        return latest if latest is not None and latest.status == AdapterVersion.Status.CANDIDATE else None

    def start_services(self, supervisor: Supervisor, port: int) -> None:
        from docsbot.core.serving import embedded_server_command, embedded_server_env

        env = self.env
        if settings.EMBEDDED_REDIS:
            if not embedded_redis.is_running(settings.DATA_DIR):
                self.step("starting the embedded Redis server")
                (settings.DATA_DIR / "redis").mkdir(parents=True, exist_ok=True)
                supervisor.start("redis", embedded_redis.server_command(settings.DATA_DIR, daemonize=False))
                deadline = time.monotonic() + 10
                while not embedded_redis.is_running(settings.DATA_DIR):
                    if time.monotonic() > deadline:
                        raise CommandError("embedded Redis did not start; see var/logs/redis.log")
                    time.sleep(0.05)
            env["DOCSBOT_EMBEDDED_REDIS_AUTOSTART"] = "0"
        # Before the workers: the chat worker answers Slack and webhooks through the serving engine's URL.
        if not settings.SERVING_URL:
            serving_port = port + 1
            self.step(f"starting the embedded serving engine on port {serving_port}")
            settings.ADAPTER_DIR.mkdir(parents=True, exist_ok=True)
            # The same command as every embedded server docsbot starts: training's max rank, docsbot's key.
            supervisor.start("serving", embedded_server_command(port=serving_port),
                             {**env, **embedded_server_env()})
            env["DOCSBOT_SERVING_URL"] = f"http://127.0.0.1:{serving_port}"
        self.step("starting Celery workers (queues: default with the periodic checks, chat, gpu) and the web server")
        celery = python_command("-m", "celery", "-A", "docsbot", "worker", "--loglevel", "INFO")
        # --beat: the periodic checks of docsbot/celery.py (scheduled retrains, A/B experiments' end).
        supervisor.start("worker-default", [*celery, "-Q", "default", "-n", "default@%h", "--concurrency", "2",
                                            "--beat", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule")],
                         env)
        supervisor.start("worker-chat", [*celery, "-Q", "chat", "-n", "chat@%h", "--concurrency", "2"], env)
        supervisor.start("worker-gpu", [*celery, "-Q", "gpu", "-n", "gpu@%h", "--concurrency", "1",
                                        "--max-tasks-per-child", "1"], env)
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        supervisor.start("web", python_command(manage, "serve", "--port", str(port)), env)

    def wait_for_health(self, supervisor: Supervisor, token: str, timeout: float = 120) -> None:
        """Until /health/detail (every component: database, broker, each queue's workers, serving)
        says ok; the public /health only says the web process answers."""
        self.step("waiting for the web server and workers")
        request = urllib.request.Request(f"{self.base_url}/health/detail",
                                         headers={"Authorization": f"Bearer {token}"})
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            if supervisor.exited():
                names = ", ".join(f"{c.name} (log {c.log_path})" for c in supervisor.exited())
                raise CommandError(f"a process exited during start-up: {names}")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    last = json.loads(response.read())
                    if last["status"] == "ok":
                        return
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):  # waiting longer cannot help
                    raise CommandError(f"{self.base_url}/health/detail refused the demo's health token "
                                       f"(HTTP {exc.code}); delete {settings.DATA_DIR / 'demo_credentials.json'} "
                                       "and run the demo again") from None
                try:
                    last = json.loads(exc.read())  # 503: the database or broker is not up yet
                except ValueError:
                    last = {"status": f"HTTP {exc.code}"}
            except (OSError, ValueError, KeyError) as exc:  # not up yet
                last = {"status": f"not answering yet: {exc}"}
            time.sleep(1)
        raise CommandError(f"services not healthy after {timeout:.0f}s: {json.dumps(last)}")

    def print_summary(self, credentials: dict[str, str], supervisor: Supervisor) -> None:
        self.stdout.write(self.style.SUCCESS("\ndocsbot is up"))
        lines = [
            f"  health:        {self.base_url}/health  (liveness)",
            f"  health detail: {self.base_url}/health/detail  (admin login)",
            (f"  admin:         {self.base_url}/admin/  (user {credentials['username']}, "
             f"password {credentials['password']})"),
            f"  API schema:    {self.base_url}/api/v1/openapi.json",
            f"  API docs:      {self.base_url}/api/v1/docs",
            f"  API token:     {credentials['api_token']}  (team {DEMO_TEAM})",
            f"  widget key:    {credentials['widget_key']}",
            f"  chat widget:   {self.base_url}/widget/demo",
            f"  logs:          {supervisor.log_dir}/",
        ]
        self.stdout.write("\n".join(lines))
