"""The one settings module. Everything a deployer may change comes from the environment,
parsed strictly: a malformed value stops start-up with a message naming the variable."""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext

from qingling.common.env import (
    env_bool,
    env_choice,
    env_int,
    env_optional_path,
    env_path,
    env_str,
    env_time,
    env_weekday,
    secret_file,
)

# Lets admin classes be written ModelAdmin[Model] for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

QINGLING_HOME: Path = env_path("QINGLING_HOME", Path.cwd() / "var")
QINGLING_CITY_CODE: str = env_str("QINGLING_CITY_CODE", "330400")
# The weekly cut-off for the key list (周清周结): ISO weekday 1..7 and a local time in
# Asia/Shanghai. Default Friday 18:00, as in "每周五实现上一批重点名单清零".
QINGLING_CUTOFF_WEEKDAY: int = env_weekday("QINGLING_CUTOFF_WEEKDAY", 5)
QINGLING_CUTOFF_TIME: time = env_time("QINGLING_CUTOFF_TIME", time(18, 0))
# Supervision: the organ that issues bulletins, its document-number prefix, the province
# whose surcharge applies, and the unit the dual-control assessment is read in.
QINGLING_ORGAN_NAME: str = env_str("QINGLING_ORGAN_NAME", "嘉兴市整治虚拟货币“挖矿”活动工作专班")
QINGLING_DOC_PREFIX: str = env_str("QINGLING_DOC_PREFIX", "嘉挖专班")
QINGLING_PROVINCE_CODE: str = env_str("QINGLING_PROVINCE_CODE", "330000")
QINGLING_ASSESSMENT_METRIC: str = env_choice("QINGLING_ASSESSMENT_METRIC", ("tce", "tco2", "kwh"),
                                             "tce")
# A GeoJSON of the counties' real boundaries, supplied by the deployer (an approved map);
# without it the dashboard map is schematic.
QINGLING_MAP_GEOJSON: Path | None = env_optional_path("QINGLING_MAP_GEOJSON")
# 回头看: a mining signal on a case cleared less than this many weeks ago reopens it (反弹).
QINGLING_REBOUND_WATCH_WEEKS: int = env_int("QINGLING_REBOUND_WATCH_WEEKS", 8)
# 居高不下: a county whose open stock has not fallen over this many closes is named.
QINGLING_STOCK_HIGH_CLOSES: int = env_int("QINGLING_STOCK_HIGH_CLOSES", 3)
# Daily digests are e-mailed to county officers (one per county per day) when true.
QINGLING_DIGEST_EMAIL: bool = env_bool("QINGLING_DIGEST_EMAIL", False)
# Sign-in (等保 2.0 三级): lockout after N failures for M minutes, per-address limit of failed
# attempts in five minutes, password age, idle and absolute session lifetime.
QINGLING_LOCKOUT_FAILURES: int = env_int("QINGLING_LOCKOUT_FAILURES", 5)
QINGLING_LOCKOUT_MINUTES: int = env_int("QINGLING_LOCKOUT_MINUTES", 15)
QINGLING_LOGIN_ADDRESS_LIMIT: int = env_int("QINGLING_LOGIN_ADDRESS_LIMIT", 20)
QINGLING_PASSWORD_MAX_AGE_DAYS: int = env_int("QINGLING_PASSWORD_MAX_AGE_DAYS", 90)
QINGLING_SESSION_IDLE_MINUTES: int = env_int("QINGLING_SESSION_IDLE_MINUTES", 30)
QINGLING_SESSION_MAX_HOURS: int = env_int("QINGLING_SESSION_MAX_HOURS", 12)
QINGLING_UPLOAD_MAX_BYTES: int = env_int("QINGLING_UPLOAD_MAX_BYTES", 25 * 1024 * 1024)
QINGLING_LIST_MAX_BYTES: int = env_int("QINGLING_LIST_MAX_BYTES", 200 * 1024 * 1024)
# A list uploaded on the page up to this size is imported while the officer waits; a larger
# one goes to the background worker and the page follows its progress.
QINGLING_INLINE_IMPORT_BYTES: int = env_int("QINGLING_INLINE_IMPORT_BYTES", 256 * 1024)
# On SQLite, how long an import leaves the write lock free between two slices of cases.
QINGLING_IMPORT_YIELD_MS: int = env_int("QINGLING_IMPORT_YIELD_MS", 120)
# A list's rows, and what an XLSX may expand to (a zip bomb is refused while reading).
QINGLING_LIST_MAX_ROWS: int = env_int("QINGLING_LIST_MAX_ROWS", 500_000)
QINGLING_LIST_MAX_UNCOMPRESSED: int = env_int("QINGLING_LIST_MAX_UNCOMPRESSED", 512 * 1024 * 1024)

DEBUG = env_bool("QINGLING_DEBUG", False)
_secret = os.environ.get("QINGLING_SECRET_KEY")
if not _secret:
    # A per-installation key kept under QINGLING_HOME, so a fresh machine works with no
    # set-up and no secret is ever committed.
    import secrets

    _secret = secret_file(QINGLING_HOME / "secret_key", lambda: secrets.token_urlsafe(50))
SECRET_KEY = _secret
ALLOWED_HOSTS = env_str("QINGLING_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "qingling.common",
    "qingling.audit",
    "qingling.jobs",
    "qingling.geo",
    "qingling.org",
    "qingling.cases",
    "qingling.intake",
    "qingling.tasks",
    "qingling.makers",
    "qingling.supervision",
    "qingling.screening",
    "qingling.accounts",
    "qingling.cityconfig",
    "qingling.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "qingling.common.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "qingling.accounts.middleware.SessionPolicyMiddleware",
    "qingling.common.busy.BusyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "qingling.config.urls"
WSGI_APPLICATION = "qingling.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "qingling.org.context.role",
            ],
        },
    },
]

_default_db = f"sqlite:///{QINGLING_HOME / 'qingling.sqlite3'}"
DATABASES: dict[str, Any] = {
    "default": dj_database_url.parse(env_str("DATABASE_URL", _default_db), conn_max_age=60)
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web server read while an import writes; a busy timeout instead of
    # "database is locked" under a concurrent write.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# 等保 2.0 三级: length, three character classes, not like the user name, not common.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "qingling.accounts.passwords.CharacterClassesValidator"},
    {"NAME": "qingling.accounts.passwords.NotUsernameValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env_str("QINGLING_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = None
# Front-end libraries installed by `./dev setup` (npm ci) and served by the app itself.
QINGLING_WEB_VENDOR: Path = env_path("QINGLING_WEB_VENDOR", BASE_DIR.parents[1] / "node_modules")
STATICFILES_DIRS = [
    (f"vendor/{name}", QINGLING_WEB_VENDOR / name / sub)
    for name, sub in (("echarts", "dist"),)
    if (QINGLING_WEB_VENDOR / name / sub).is_dir()
]
MEDIA_ROOT = QINGLING_HOME / "files"

FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640

SESSION_COOKIE_HTTPONLY = True
# The cookie outlives no session: the absolute lifetime (the middleware also ends idle ones).
SESSION_COOKIE_AGE = QINGLING_SESSION_MAX_HOURS * 3600
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Production behind a TLS reverse proxy (deploy/README.md): QINGLING_HTTPS=1 makes cookies
# secure, redirects plain HTTP, sends HSTS and trusts the proxy's X-Forwarded-Proto.
QINGLING_HTTPS: bool = env_bool("QINGLING_HTTPS", False)
SESSION_COOKIE_SECURE = QINGLING_HTTPS or env_bool("QINGLING_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if QINGLING_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env_int("QINGLING_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # subdomains of the service's own host name
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The browsers' HSTS preload list is for public sites; an intranet host cannot be on it.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("QINGLING_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

EMAIL_BACKEND = env_str("QINGLING_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("QINGLING_LOG_LEVEL", "WARNING")},
}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files are served by the app itself (no CDN, no separate web server needed);
# in development and tests straight from the app folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
