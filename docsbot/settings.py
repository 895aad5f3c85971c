"""Django settings, read from the environment (see README "Configuration")."""
from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from kombu import Exchange, Queue

from docsbot import embedded_redis
from docsbot.config import (
    ConfigError,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_optional_int,
    env_path,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("DOCSBOT_DATA_DIR", BASE_DIR / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _generated_key(name: str, nbytes: int) -> str:
    """DATA_DIR/<name>: a random key made once (owner-only, published whole with a hard link, so
    processes starting together all read the same one), then kept."""
    keyfile = DATA_DIR / name
    if not keyfile.exists():
        temporary = DATA_DIR / f".{name}.{os.getpid()}.tmp"
        temporary.write_text(secrets.token_urlsafe(nbytes))
        temporary.chmod(0o600)
        try:
            os.link(temporary, keyfile)
        except FileExistsError:  # another process made it first: theirs is the key
            pass
        finally:
            temporary.unlink()
    return keyfile.read_text().strip()


def _secret_key() -> str:
    configured = env_optional("DOCSBOT_SECRET_KEY")
    if configured:
        if len(configured) < 50:
            raise ConfigError("DOCSBOT_SECRET_KEY: must be at least 50 characters")
        return configured
    # A checkout gets a stable random key of its own, never a shared default.
    return _generated_key("secret_key", 64)


SECRET_KEY = _secret_key()
DEBUG = env_bool("DOCSBOT_DEBUG", False)
PRODUCTION = env_bool("DOCSBOT_PRODUCTION", False)
ALLOWED_HOSTS = env_list("DOCSBOT_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
if not ALLOWED_HOSTS:  # set but empty: every request would be refused (400) with no word why
    raise ConfigError("DOCSBOT_ALLOWED_HOSTS: set but empty; give the host names this site answers to, "
                      "comma-separated (e.g. docs.example.com), or unset it for the local defaults")
CSRF_TRUSTED_ORIGINS = env_list("DOCSBOT_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "docsbot.core",
    "docsbot.teams",
    "docsbot.documents",
    "docsbot.qa",
    "docsbot.adapters",
    "docsbot.chat",
]

MIDDLEWARE = [
    # First: proxy headers from a peer not in TRUSTED_PROXIES are dropped before anything reads them.
    "docsbot.core.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "docsbot.core.number_range.ApiNumberRangeMiddleware",
]

ROOT_URLCONF = "docsbot.urls"
ASGI_APPLICATION = "docsbot.asgi.application"
WSGI_APPLICATION = "docsbot.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "docsbot" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
_database_url = env_url(
    "DATABASE_URL",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
    default=f"sqlite:///{DATA_DIR / 'docsbot.sqlite3'}",
)
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DOCSBOT_DB_CONN_MAX_AGE", 0, minimum=0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: broker, cache, locks ---------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes={"redis", "rediss", "unix", "redis+socket"})
EMBEDDED_REDIS = REDIS_URL is None
if EMBEDDED_REDIS:
    if env_bool("DOCSBOT_EMBEDDED_REDIS_AUTOSTART", True):
        embedded_redis.ensure_running(DATA_DIR)
    CELERY_BROKER_URL = embedded_redis.url_for(DATA_DIR, 0)
    REDIS_CLIENT_URL = embedded_redis.client_url_for(DATA_DIR, 1)
else:
    CELERY_BROKER_URL = REDIS_URL
    REDIS_CLIENT_URL = REDIS_URL

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CLIENT_URL,
        "KEY_PREFIX": "docsbot",
        "TIMEOUT": 300,
    }
}

# --- celery ----------------------------------------------------------------------
# --- training and the promotion gate ------------------------------------------------
AUTO_PROMOTE = env_bool("DOCSBOT_AUTO_PROMOTE", True)  # promote a version that passes the gate
# A team with fewer than 200 pairs (so under 50 held out): a version that passes the gate is trained
# again on every pair, held-out ones included, with the same settings (adapters.runner).
REFIT_ON_ALL_PAIRS = env_bool("DOCSBOT_REFIT_ON_ALL_PAIRS", True)
# How long a training worker's claim lasts without a heartbeat.
TRAINING_LEASE_SECONDS = env_int("DOCSBOT_TRAINING_LEASE_SECONDS", 120, minimum=5)
# The largest general-text perplexity ratio (adapter / base) promoted: may rise by less than 5 %.
MAX_FORGETTING = env_float("DOCSBOT_MAX_FORGETTING", 1.05, minimum=1.0)
# The largest share of held-out questions, asked with their source among the documents, that a promoted
# adapter may answer with the not-covered reply ("not covered" must not be its usual reply to a question
# the documents answer; the base model's own share when that is higher).
MAX_FALSE_ABSTENTION = env_float("DOCSBOT_MAX_FALSE_ABSTENTION", 0.5, minimum=0.0)
if MAX_FALSE_ABSTENTION > 1.0:
    raise ConfigError(f"DOCSBOT_MAX_FALSE_ABSTENTION: a share from 0 to 1, got {MAX_FALSE_ABSTENTION}")
# The serving engine's --max-lora-rank (vLLM's default is 16); training checks ranks against it.
MAX_LORA_RANK = env_int("DOCSBOT_MAX_LORA_RANK", 64, minimum=1)
# The share of the GPU's memory a training job may use. On a host where vLLM shares the one GPU, at most
# 1 - vLLM's --gpu-memory-utilization, less a margin for the CUDA contexts (docker-compose.yml: 0.45 and 0.45).
TRAINING_GPU_MEMORY_FRACTION = env_float("DOCSBOT_TRAINING_GPU_MEMORY_FRACTION", 1.0, minimum=0.05)
if TRAINING_GPU_MEMORY_FRACTION > 1.0:
    raise ConfigError(f"DOCSBOT_TRAINING_GPU_MEMORY_FRACTION: must be at most 1.0, got {TRAINING_GPU_MEMORY_FRACTION}")
# Queued or running training jobs a team may have at once on the shared gpu queue.
MAX_ACTIVE_JOBS_PER_TEAM = env_int("DOCSBOT_MAX_ACTIVE_JOBS_PER_TEAM", 2, minimum=1)
# The largest value a job may ask for each bounded hyperparameter (ranks: MAX_LORA_RANK).
TRAINING_LIMITS = {
    "epochs": env_int("DOCSBOT_MAX_EPOCHS", 20, minimum=1),
    "batch_size": env_int("DOCSBOT_MAX_BATCH_SIZE", 64, minimum=1),
    "max_length": env_int("DOCSBOT_MAX_TRAIN_LENGTH", 8192, minimum=16),
    "max_steps": env_int("DOCSBOT_MAX_TRAIN_STEPS", 20_000, minimum=1),
    "eval_max_examples": 1000,
    "eval_max_new_tokens": 1024,
}
TRAINING_SOFT_TIME_LIMIT = env_int("DOCSBOT_TRAINING_SOFT_TIME_LIMIT", 6 * 3600, minimum=1)
TRAINING_HARD_TIME_LIMIT = env_int("DOCSBOT_TRAINING_HARD_TIME_LIMIT", TRAINING_SOFT_TIME_LIMIT + 600, minimum=1)
if TRAINING_HARD_TIME_LIMIT <= TRAINING_SOFT_TIME_LIMIT:
    raise ConfigError("DOCSBOT_TRAINING_HARD_TIME_LIMIT: must exceed DOCSBOT_TRAINING_SOFT_TIME_LIMIT")
# Longer than the longest job's hard limit, or Redis redelivers a running job to a second worker.
CELERY_VISIBILITY_TIMEOUT = env_int(
    "DOCSBOT_CELERY_VISIBILITY_TIMEOUT", TRAINING_HARD_TIME_LIMIT + 3600, minimum=1
)
# Celery work is background work (ingestion, pair generation, training, Slack follow-ups): workers run at this
# nice value so that, on a machine they share with the web and serving processes, interactive chat keeps the CPU.
WORKER_NICE = env_int("DOCSBOT_WORKER_NICE", 10, minimum=0, maximum=19)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (
    Queue("default", Exchange("default"), routing_key="default"),
    Queue("gpu", Exchange("gpu"), routing_key="gpu"),
    # Slack and webhook follow-ups: their own workers, so a team's answer never waits behind ingestion.
    Queue("chat", Exchange("chat"), routing_key="chat"),
)
CELERY_TASK_ROUTES = {"docsbot.adapters.tasks.*": {"queue": "gpu", "routing_key": "gpu"},
                      "docsbot.chat.tasks.*": {"queue": "chat", "routing_key": "chat"}}
# Periodic work, sent by ``celery -A docsbot beat`` (or a worker with ``--beat``; exactly one per deployment): the
# sweep requeues work whose worker died while other workers live on; continuous learning (issue 20) starts the
# retrains that are due and ends A/B experiments.
RECOVERY_SWEEP_SECONDS = env_int("DOCSBOT_RECOVERY_SWEEP_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "recover-interrupted": {"task": "docsbot.core.tasks.recover_interrupted",
                            "schedule": float(RECOVERY_SWEEP_SECONDS), "options": {"queue": "default"}},
    "retrain-due": {"task": "docsbot.adapters.learning.retrain_due", "schedule": 300.0,
                    "options": {"queue": "default"}},
    "experiments-evaluate": {"task": "docsbot.adapters.learning.experiments_evaluate", "schedule": 300.0,
                             "options": {"queue": "default"}},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- docsbot -----------------------------------------------------------------------
# Requests a minute per API token (0: no limit); docsbot.teams.auth.api_rate_limit counts them in Redis.
API_RATE_LIMITS = {
    "search": env_int("DOCSBOT_API_SEARCH_PER_MINUTE", 120, minimum=0),
    "upload": env_int("DOCSBOT_API_UPLOAD_PER_MINUTE", 20, minimum=0),
    "import": env_int("DOCSBOT_API_IMPORT_PER_MINUTE", 10, minimum=0),
    "training": env_int("DOCSBOT_API_TRAINING_PER_MINUTE", 10, minimum=0),
}
API_RATE_WINDOW_SECONDS = 60  # the window of API_RATE_LIMITS; tests widen it so no window edge falls mid-test
MAX_UPLOAD_MB = env_int("DOCSBOT_MAX_UPLOAD_MB", 50, minimum=1, maximum=10_000)
# What all archives of one ingest run may expand to together (docsbot.documents.sources.ExpansionBudget).
MAX_RUN_EXPANDED_MB = env_int("DOCSBOT_MAX_RUN_EXPANDED_MB", 1000, minimum=1)
# One archive: members, expanded size and the compression ratio of any member (a likely zip bomb above it).
MAX_ARCHIVE_MEMBERS = env_int("DOCSBOT_MAX_ARCHIVE_MEMBERS", 5000, minimum=1)
MAX_ARCHIVE_MB = env_int("DOCSBOT_MAX_ARCHIVE_MB", max(200, MAX_UPLOAD_MB * 4), minimum=1)
MAX_ARCHIVE_RATIO = env_int("DOCSBOT_MAX_ARCHIVE_RATIO", 100, minimum=2)
# Seconds one file may take to parse and chunk (0: no limit).
PARSE_TIME_LIMIT = env_float("DOCSBOT_PARSE_TIME_LIMIT", 60.0, minimum=0.0)
# How long an ingest or generation worker's claim lasts without a renewal (it must outlast the per-file parse
# limit and one embedding pass), and how many times a run's worker may die before the run fails (a file that
# kills its worker must not kill every worker in turn).
RUN_LEASE_SECONDS = env_int("DOCSBOT_RUN_LEASE_SECONDS", 300, minimum=5)
RUN_MAX_ATTEMPTS = env_int("DOCSBOT_RUN_MAX_ATTEMPTS", 3, minimum=1)
# The search index's first pass: int8 where the CPU has AVX-512 (auto), or float32 always.
INDEX_SCAN = env_choice("DOCSBOT_INDEX_SCAN", "auto", ("auto", "float32"))
# Teams whose search index a process keeps in memory (least recently used out first).
INDEX_CACHE_TEAMS = env_int("DOCSBOT_INDEX_CACHE_TEAMS", 16, minimum=1)
# auto: bfloat16 on CPUs with native bf16 matrix units (2-3x faster, vectors within ~0.999 cosine), else float32.
EMBEDDING_DTYPE = env_choice("DOCSBOT_EMBEDDING_DTYPE", "auto", ("auto", "float32", "bfloat16"))
# A crawl: pages at most, and seconds a page may take in all (connect, redirects, headers, body).
CRAWL_MAX_PAGES = env_int("DOCSBOT_CRAWL_MAX_PAGES", 500, minimum=1)
CRAWL_PAGE_TIMEOUT = env_float("DOCSBOT_CRAWL_PAGE_TIMEOUT", 30.0, minimum=1.0)
# Tokens the LLM pair generator asks the serving endpoint for, per chunk.
QA_LLM_MAX_TOKENS = env_int("DOCSBOT_QA_LLM_MAX_TOKENS", 128, minimum=16)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
BASE_MODEL = env_optional("DOCSBOT_BASE_MODEL")  # None: SmolLM2 converted by prepare_base_model
SERVING_URL = env_url("DOCSBOT_SERVING_URL", schemes={"http", "https"})
# The served base model's name; unset: the model card without a parent in the endpoint's /v1/models.
SERVING_BASE_MODEL_NAME = env_optional("DOCSBOT_SERVING_BASE_MODEL_NAME")
# The serving endpoint's bearer key (vLLM's --api-key): set it for vLLM (docker-compose.yml gives both sides
# the same one); else a key of this checkout's own, which docsbot hands to the embedded servers it starts.
SERVING_API_KEY = env_optional("DOCSBOT_SERVING_API_KEY") or _generated_key("serving_api_key", 32)
ADAPTER_DIR = env_path("DOCSBOT_ADAPTER_DIR", DATA_DIR / "adapters")
EMBEDDING_MODEL = env_optional("DOCSBOT_EMBEDDING_MODEL")  # None: the packaged all-MiniLM-L6-v2
PUBLIC_URL = env_str("DOCSBOT_PUBLIC_URL", "http://127.0.0.1:8000")

# --- chat ----------------------------------------------------------------------------
# Cosine similarity of the best chunk below which the docs are taken not to cover a question.
# Calibrated with all-MiniLM-L6-v2 on tests/fixtures/docs: on-topic questions scored
# 0.23-0.73, off-topic ones -0.01-0.15 (tests/chat/test_relevance.py keeps that split).
CHAT_MIN_SCORE = env_float("DOCSBOT_CHAT_MIN_SCORE", 0.2)
CHAT_TOP_K = env_int("DOCSBOT_CHAT_TOP_K", 4, minimum=1, maximum=20)
# Of those, the prompt holds the chunks whose similarity is within this of the best one's (0: all of them).
# 0.15: natural-question quality as with all of them on two corpora, prompts 16-26 % shorter (bench/README.md).
CHAT_CONTEXT_MARGIN = env_float("DOCSBOT_CHAT_CONTEXT_MARGIN", 0.15, minimum=0.0)
# Of each chunk the prompt holds its heading and this many sentences most similar to the question
# (docsbot.documents.excerpts); 0 sends whole chunks. Training examples are built the same way.
CONTEXT_SENTENCES = env_int("DOCSBOT_CONTEXT_SENTENCES", 3, minimum=0, maximum=50)
# An answer whose word pairs its documents hold less than this share of (docsbot.chat.support) is withheld and the
# reply says the docs do not cover the question, with the closest sections; 0 turns the check off. Blind labels of
# three corpora's natural-question answers (bench/answer_support.py): adapters' grounded answers hold 0.88-1.0;
# 0.7 withholds none of them and 100 of the base model's 102 ungrounded ones (bench/README.md, Chat).
CHAT_MIN_SUPPORT = env_float("DOCSBOT_CHAT_MIN_SUPPORT", 0.7, minimum=0.0)
CHAT_MAX_TOKENS = env_int("DOCSBOT_CHAT_MAX_TOKENS", 256, minimum=1)
CHAT_HISTORY_MESSAGES = env_int("DOCSBOT_CHAT_HISTORY_MESSAGES", 6, minimum=0)
CHAT_MAX_QUESTION_CHARS = env_int("DOCSBOT_CHAT_MAX_QUESTION_CHARS", 2000, minimum=10)
# Chat budgets, one per channel and subject, so that one caller cannot spend another's: the
# default of each channel budget below (0 disables them all but the per-client widget one);
# a channel's budget left unset (None) inherits it.
CHAT_RATE_LIMIT_PER_MINUTE = env_int("DOCSBOT_CHAT_RATE_LIMIT_PER_MINUTE", 120, minimum=0)
CHAT_API_RATE_LIMIT_PER_MINUTE = env_optional_int("DOCSBOT_CHAT_API_PER_MINUTE", minimum=0)  # per API token
CHAT_WIDGET_RATE_LIMIT_PER_MINUTE = env_optional_int("DOCSBOT_CHAT_WIDGET_PER_MINUTE", minimum=0)  # per widget key
CHAT_SLACK_RATE_LIMIT_PER_MINUTE = env_optional_int("DOCSBOT_CHAT_SLACK_PER_MINUTE", minimum=0)  # per team
CHAT_WEBHOOK_RATE_LIMIT_PER_MINUTE = env_optional_int("DOCSBOT_CHAT_WEBHOOK_PER_MINUTE", minimum=0)  # per team
# Per widget key and client address (an IPv6 client by its /64): one browser, or one script
# forging an Origin header, cannot spend the whole widget key's budget.
CHAT_WIDGET_CLIENT_RATE_LIMIT_PER_MINUTE = env_int("DOCSBOT_CHAT_WIDGET_CLIENT_PER_MINUTE", 20, minimum=0)
# The admin login: this many failed tries of one user name from one client lock it there for the window.
LOGIN_FAILURES = env_int("DOCSBOT_LOGIN_FAILURES", 10, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("DOCSBOT_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
SLACK_API_URL = env_str("DOCSBOT_SLACK_API_URL", "https://slack.com/api")
# Where a slash command's response_url may point: the request names it, so without this list anyone holding
# a team's signing secret could make the chat worker POST to any address (an internal service, say).
SLACK_RESPONSE_URL_PREFIXES = env_list("DOCSBOT_SLACK_RESPONSE_URL_PREFIXES", ["https://hooks.slack.com/"])
SLACK_DEDUPE_SECONDS = env_int("DOCSBOT_SLACK_DEDUPE_SECONDS", 3600, minimum=60)

# --- security ------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-Proto and
# X-Forwarded-For are believed; from any other peer TrustedProxyMiddleware drops them. None by
# default: set it in production behind a TLS-terminating proxy (e.g. 10.0.0.5 or 172.16.0.0/12).
TRUSTED_PROXIES = env_list("DOCSBOT_TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ConfigError(f"DOCSBOT_TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from None
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DOCSBOT_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DOCSBOT_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DOCSBOT_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # bitsandbytes warns on every CPU import that an optional kernels package is missing.
        "bitsandbytes": {"level": "ERROR"},
    },
}
