"""Non-secret settings (connection profiles, remembered models, window state) in ``settings.json``.

The file carries ``"version": 1``, is written atomically, and keeps fields this version does not
know (so a newer app's settings survive a round trip through an older one). A file that cannot be
parsed or has the wrong shape is set aside (never deleted) and defaults are used, with a notice the
UI shows. Keys and proxy passwords are never in here: they live in :class:`~.secrets.KeyStore`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from chatbot_gui.core.usage import Price
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from chatbot_gui.core.atomic import LeftAlone, load_json_file, write_atomic
from chatbot_gui.core.defaults import DEFAULT_BASE_URL, DEFAULT_READ_TIMEOUT
from chatbot_gui.core.paths import AppPaths, ensure_private_dir

if TYPE_CHECKING:  # keyring costs ~70 ms to import: it stays off the start-up path
    from chatbot_gui.core.connection import ConnectionConfig  # built at the first request
    from chatbot_gui.core.secrets import KeyStore, PendingSecrets

VERSION = 1
FILE_NAME = "settings.json"
DEFAULT_PROFILE_ID = "default"
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")

#: Server presets offered in the dialog: (label, base URL).
PRESETS: tuple[tuple[str, str], ...] = (
    ("OpenAI", DEFAULT_BASE_URL),
    ("Ollama", "http://localhost:11434/v1"),
    ("LM Studio", "http://localhost:1234/v1"),
    ("OpenRouter", "https://openrouter.ai/api/v1"),
)


#: Names the app itself gave profiles before it remembered whether a name was the user's.
APP_NAMES = ("OpenAI",)
_AUTO_NAME = re.compile(r"Profile \d+")


def same_server(a: str, b: str) -> bool:
    """Whether two server addresses name the same server (scheme, host, port and path)."""
    return _server_key(a) == _server_key(b) and bool(a.strip())


def _server_key(url: str) -> tuple[str, ...]:
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    except ValueError:
        return (url.rstrip("/"),)
    return (parts.scheme.lower(), (parts.hostname or "").lower(), str(port), parts.path.rstrip("/"))


def server_label(url: str) -> str:
    """A short name for a server: the preset's label, else host[:port] ("Custom server" if none)."""
    for label, preset in PRESETS:
        if same_server(url, preset):
            return label
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "Custom server"
    if not host:
        return "Custom server"
    return f"{host}:{port}" if port else host


@dataclass(frozen=True)
class Profile:
    """One server to talk to: address, options and the model last chosen for it (no secrets)."""

    id: str
    name: str
    base_url: str = DEFAULT_BASE_URL
    default_model: str = ""
    organization: str = ""
    project: str = ""
    read_timeout: float = DEFAULT_READ_TIMEOUT  # seconds of silence between chunks
    proxy_url_without_password: str = ""  # "" = no proxy of our own (HTTPS_PROXY etc. still apply)
    proxy_user: str = ""
    models: tuple[str, ...] = ()  # the server's model list as last fetched, for the model picker
    #: The server address the profile's key was given for: the key is sent there and nowhere else.
    #: None: the profile's own ``base_url`` (files from before this field, profiles made in code).
    key_server: str | None = None
    #: Whether a key for this profile is in the keyring (a flag, never the key). None: not known
    #: (older files): the keyring is asked. False: the keyring is not asked at start.
    key_saved: bool | None = None
    #: The name follows the server (the user never named the profile). None: not known (older files).
    name_follows_server: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key_address(self) -> str:
        """Where this profile's saved key may be sent."""
        return self.base_url if self.key_server is None else self.key_server

    @property
    def follows_server(self) -> bool:
        """Whether the name is the app's own (so it follows the server), not one the user chose."""
        if self.name_follows_server is not None:
            return self.name_follows_server
        return self.name in APP_NAMES or bool(_AUTO_NAME.fullmatch(self.name))


@dataclass(frozen=True)
class Settings:
    """Everything in ``settings.json``. Immutable: change it with :func:`dataclasses.replace`."""

    profiles: tuple[Profile, ...] = (Profile(DEFAULT_PROFILE_ID, "OpenAI", name_follows_server=True),)
    active_profile_id: str = DEFAULT_PROFILE_ID
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    last_persona: str = ""
    # Issue 12 [Context]: per-model context windows the user set, and the user's prices (USD per 1M
    # tokens) over the built-in OpenAI table (core/windows.py, core/usage.py). Invalid entries are dropped.
    context_windows: Mapping[str, int] = field(default_factory=dict)
    model_prices: Mapping[str, Price] = field(default_factory=dict)
    theme: str = "system"  #: one of THEMES: follow the system's light/dark scheme, or a fixed one
    font_zoom: int = 0  #: transcript and input font size, in points above (below) the default
    version: int = VERSION
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def active_profile(self) -> Profile:
        """The profile requests use now (the first one if the stored id is gone)."""
        return self.profile(self.active_profile_id) or self.profiles[0]

    def profile(self, profile_id: str) -> Profile | None:
        return next((p for p in self.profiles if p.id == profile_id), None)

    def with_profile(self, profile: Profile) -> Settings:
        """A copy with ``profile`` replacing the one with the same id (or appended)."""
        if self.profile(profile.id) is None:
            return dataclasses.replace(self, profiles=self.profiles + (profile,))
        return dataclasses.replace(self, profiles=tuple(profile if p.id == profile.id else p for p in self.profiles))

    def with_models(self, profile_id: str, models: list[str] | tuple[str, ...]) -> Settings:
        """A copy remembering ``models`` as the server's model list for ``profile_id``."""
        prof = self.profile(profile_id)
        if prof is None:
            return self
        return self.with_profile(dataclasses.replace(prof, models=tuple(models)))


def new_profile_id(existing: set[str] | frozenset[str] = frozenset()) -> str:
    """A fresh id, safe as a keyring username (no ``:``) and unique among ``existing``."""
    import secrets  # hashlib/hmac: only when a profile is added

    while True:
        pid = "p-" + secrets.token_hex(4)
        if pid not in existing:
            return pid


# -- proxy URLs ----------------------------------------------------------------------------------
def split_proxy_url(url: str) -> tuple[str, str, str]:
    """``(url without user info, user, password)``: a pasted ``http://u:p@host:port`` is taken apart."""
    url = url.strip()
    if not url:
        return "", "", ""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    netloc = parts.netloc.rpartition("@")[2].lower()  # host[:port] as typed; proxy_problem checks it
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, "", "")), user, password


def proxy_problem(url: str) -> str:
    """Why ``url`` is not a usable proxy address, or "" when it is (or is empty)."""
    if not url.strip():
        return ""
    bare, _, _ = split_proxy_url(url)
    try:
        parts = urlsplit(bare)
        port = parts.port
    except ValueError:
        return "The proxy address has an invalid port."
    if parts.scheme not in PROXY_SCHEMES:
        return "The proxy must start with http://, https:// or socks5://."
    if not parts.hostname:
        return "The proxy address has no host name."
    if port is None and parts.scheme.startswith("socks"):
        return "A SOCKS proxy address needs a port (for example socks5://127.0.0.1:1080)."
    if parts.scheme.startswith("socks"):
        try:
            import socksio  # noqa: F401
        except ImportError:
            return "SOCKS proxies need the 'socksio' package, which is not installed."
    return ""


def build_proxy_url(url_without_password: str, user: str, password: str | None) -> str:
    """The proxy URL handed to httpx2, with the user and password percent-encoded."""
    bare, _, _ = split_proxy_url(url_without_password)
    if not bare or not user:
        return bare
    parts = urlsplit(bare)
    creds = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit((parts.scheme, f"{creds}@{parts.netloc}", parts.path, "", ""))


def settings_problem(settings: Settings) -> str:
    """What must be fixed before ``settings`` can be used, in words for the user, or ""."""
    for prof in settings.profiles:
        if not prof.base_url.strip().startswith(("http://", "https://")):
            return f"Profile “{prof.name}”: the server address must start with http:// or https://."
        why = proxy_problem(prof.proxy_url_without_password)
        if why:
            return f"Profile “{prof.name}”: {why}"
    return ""


# -- resolving what to connect with ------------------------------------------------------------
def env_key_applies(profile: Profile, env: Mapping[str, str] | None = None) -> bool:
    """Whether ``OPENAI_API_KEY`` from the environment is used for ``profile``.

    For OpenAI's own server, or for the server ``OPENAI_BASE_URL`` names (the two variables are set
    together): sending an OpenAI key to OpenRouter or any other third party would leak it there.
    """
    return same_server(server_in_use(profile, env or {}), DEFAULT_BASE_URL) or bool(env_base_url(env or {}))


def env_base_url(env: Mapping[str, str]) -> str:
    """``OPENAI_BASE_URL`` from the environment ("" when unset): it overrides every profile's server."""
    return (env.get("OPENAI_BASE_URL") or "").strip()


def server_in_use(profile: Profile, env: Mapping[str, str]) -> str:
    """The address requests for ``profile`` go to: ``OPENAI_BASE_URL`` when set, else the profile's."""
    return env_base_url(env) or profile.base_url.strip()


def key_goes_to(profile: Profile, env: Mapping[str, str]) -> bool:
    """Whether the profile's saved key may be sent to the server in use (the one it was given for)."""
    return same_server(server_in_use(profile, env), profile.key_address)


def keyring_reads(profile: Profile, env: Mapping[str, str]) -> tuple[bool, ...]:
    """Which secrets resolving ``profile`` reads from the keyring (a locked one prompts the user):
    ``False`` for its key, ``True`` for its proxy password. Empty: the keyring is not asked."""
    env_key = (env.get("OPENAI_API_KEY") or "").strip()
    reads: list[bool] = []
    if not (env_key and env_key_applies(profile, env)) and key_goes_to(profile, env) and profile.key_saved is not False:
        reads.append(False)
    if profile.proxy_url_without_password.strip() and profile.proxy_user:
        reads.append(True)
    return tuple(reads)


def keyring_needed(profile: Profile, env: Mapping[str, str]) -> bool:
    """Whether resolving ``profile`` would read the keyring at all."""
    return bool(keyring_reads(profile, env))


def resolve_connection(settings: Settings, keys: KeyStore, env: Mapping[str, str],
                       pending: PendingSecrets | None = None) -> ConnectionConfig:
    """The active profile as a :class:`ConnectionConfig`, with its key and proxy password.

    ``key_source`` says where the key came from: "environment", "keyring", "session", "typed"
    (from ``pending``: typed in the Settings dialog, not saved yet), "other server" (a key is saved,
    but for another server address, so it is not sent) or "" when there is none.

    A key goes only to the server it was given for (:attr:`Profile.key_address`; a typed key: the
    address shown beside it); organization and project ids only to OpenAI's own server.
    ``keys`` may block (a keyring): call this off the GUI thread, or pass ``KeyStore.cached``.
    """
    prof = settings.active_profile
    if pending is None:
        from chatbot_gui.core.secrets import PendingSecrets

        pending = PendingSecrets()
    base = server_in_use(prof, env)
    env_key = (env.get("OPENAI_API_KEY") or "").strip()
    key: str | None = None
    source = ""
    if env_key and env_key_applies(prof, env):
        key, source = env_key, "environment"
    elif pending.keys.get(prof.id):
        if same_server(base, prof.base_url):
            key, source = pending.keys[prof.id], "typed"
    elif prof.id in pending.remove_keys:
        pass
    elif key_goes_to(prof, env):
        key, source = keys.get_with_source(prof.id, keyring=prof.key_saved is not False)
    elif prof.key_saved:
        source = "other server"
    proxy = None
    if prof.proxy_url_without_password.strip():
        password = None
        if prof.proxy_user:
            password = pending.proxy_passwords.get(prof.id) or keys.get(prof.id, proxy=True)
        proxy = build_proxy_url(prof.proxy_url_without_password, prof.proxy_user, password)
    from chatbot_gui.core.connection import ConnectionConfig  # not on the start-up path

    openai = same_server(base, DEFAULT_BASE_URL)
    organization = (prof.organization.strip() or (env.get("OPENAI_ORG_ID") or "").strip()) if openai else ""
    project = (prof.project.strip() or (env.get("OPENAI_PROJECT_ID") or "").strip()) if openai else ""
    return ConnectionConfig(
        api_key=key,
        base_url=base or DEFAULT_BASE_URL,
        organization=organization or None,
        project=project or None,
        read_timeout=clamp_timeout(prof.read_timeout),
        proxy=proxy,
        key_source=source,
    )


#: The timeouts a profile may have, in seconds (the Settings dialog offers the same range).
MIN_READ_TIMEOUT, MAX_READ_TIMEOUT = 1.0, 3600.0


def clamp_timeout(value: float) -> float:
    """A read timeout the HTTP client and the dialog can use: ``NaN`` becomes the default, and
    ``Infinity``, ``1e300`` or a 400-digit integer the largest allowed (every request failed with them,
    and the Settings dialog could not show them to fix)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = min(max(value, int(MIN_READ_TIMEOUT)), int(MAX_READ_TIMEOUT))  # float(10**400) overflows
    value = float(value)
    if math.isnan(value):
        return DEFAULT_READ_TIMEOUT
    return min(max(value, MIN_READ_TIMEOUT), MAX_READ_TIMEOUT)


#: The appearance choices (Settings > Appearance); anything else in the file reads as "system".
THEMES = ("system", "light", "dark")
#: Font zoom steps (points) the keyboard can reach: Ctrl+- stops at FONT_ZOOM_MIN, Ctrl+= at FONT_ZOOM_MAX.
FONT_ZOOM_MIN, FONT_ZOOM_MAX = -6, 24


def clamp_zoom(value: int) -> int:
    """A font zoom in the range the app offers."""
    return max(FONT_ZOOM_MIN, min(FONT_ZOOM_MAX, int(value)))


# -- the file -------------------------------------------------------------------------------------
class ShapeError(ValueError):
    """settings.json parsed as JSON but is not shaped like our settings."""


_PROFILE_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "base_url": (str,), "default_model": (str,), "organization": (str,),
    "project": (str,), "read_timeout": (int, float), "proxy_url_without_password": (str,),
    "proxy_user": (str,), "models": (list,),
}
_SETTINGS_TYPES: dict[str, tuple[type, ...]] = {
    "active_profile": (str,), "window_geometry": (str,), "last_persona": (str,), "profiles": (list,),
    "theme": (str,), "font_zoom": (int,),
}


def _check(obj: Mapping[str, Any], types: Mapping[str, tuple[type, ...]], where: str) -> None:
    for name, allowed in types.items():
        if name in obj and (not isinstance(obj[name], allowed) or isinstance(obj[name], bool)):
            raise ShapeError(f"{where}: '{name}' has the wrong type")


def _profile_from(obj: Any) -> Profile:
    if not isinstance(obj, dict):
        raise ShapeError("a profile is not an object")
    pid = obj.get("id")
    if not isinstance(pid, str) or not pid or ":" in pid:
        raise ShapeError("a profile has no valid id")
    _check(obj, _PROFILE_TYPES, "profile")
    models = obj.get("models", [])
    if not all(isinstance(m, str) for m in models):
        raise ShapeError("profile: 'models' holds something other than names")
    known = {f.name for f in dataclasses.fields(Profile)} - {"extra"}
    values = {k: v for k, v in obj.items() if k in known}
    values["models"] = tuple(models)
    values.setdefault("name", pid)
    if "read_timeout" in values:
        values["read_timeout"] = clamp_timeout(values["read_timeout"])
    for name in ("key_saved", "name_follows_server"):
        if values.get(name) is not None and not isinstance(values[name], bool):
            raise ShapeError(f"profile: '{name}' has the wrong type")
    if values.get("key_server") is not None and not isinstance(values["key_server"], str):
        raise ShapeError("profile: 'key_server' has the wrong type")
    extra = {k: v for k, v in obj.items() if k not in known}
    prof = Profile(**values, extra=extra)
    if "name_follows_server" not in obj and prof.name in APP_NAMES and prof.follows_server:
        # Written before names followed servers: "OpenAI" on a LiteLLM address said the wrong thing.
        prof = dataclasses.replace(prof, name=server_label(prof.base_url), name_follows_server=True)
    return prof


def settings_from_json(data: Any) -> tuple[Settings, str | None]:
    """Parse the decoded JSON document. Raises :class:`ShapeError`; returns a notice for odd versions."""
    if not isinstance(data, dict):
        raise ShapeError("the file is not a JSON object")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ShapeError("the file has no valid version")
    _check(data, _SETTINGS_TYPES, "settings")
    profiles = tuple(_profile_from(p) for p in data.get("profiles", []))
    if len({p.id for p in profiles}) != len(profiles):
        raise ShapeError("two profiles share an id")
    defaults = Settings()
    notice = None
    if version > VERSION:
        notice = ("The settings file was written by a newer version of Chatbot. Settings it added are "
                  "kept, but this version may not understand all of them.")
    known = {"version", "profiles", "active_profile", "window_geometry", "last_persona", "context_windows",
             "model_prices", "theme", "font_zoom"}
    settings = Settings(
        profiles=profiles or defaults.profiles,
        active_profile_id=data.get("active_profile", (profiles or defaults.profiles)[0].id),
        window_geometry=data.get("window_geometry", ""),
        last_persona=data.get("last_persona", ""),
        context_windows=_windows_from_json(data.get("context_windows")),
        model_prices=_prices_from_json(data.get("model_prices")),
        theme=data["theme"] if data.get("theme") in THEMES else "system",
        font_zoom=clamp_zoom(data.get("font_zoom", 0)),
        version=version,
        extra={k: v for k, v in data.items() if k not in known},
    )
    if settings.profile(settings.active_profile_id) is None:
        settings = dataclasses.replace(settings, active_profile_id=settings.profiles[0].id)
    return settings, notice


def settings_to_json(settings: Settings) -> dict[str, Any]:
    """The JSON document for ``settings``. A password typed into a proxy URL is dropped here."""
    profiles = []
    for prof in settings.profiles:
        obj: dict[str, Any] = dict(prof.extra)
        for f in dataclasses.fields(Profile):
            if f.name != "extra":
                obj[f.name] = getattr(prof, f.name)
        obj["models"] = list(prof.models)
        obj["proxy_url_without_password"] = split_proxy_url(prof.proxy_url_without_password)[0]
        profiles.append(obj)
    doc: dict[str, Any] = dict(settings.extra)
    doc.update({
        "version": max(settings.version, VERSION),
        "active_profile": settings.active_profile_id,
        "profiles": profiles,
        "window_geometry": settings.window_geometry,
        "last_persona": settings.last_persona,
        "context_windows": dict(settings.context_windows),
        "model_prices": _prices_to_json(settings.model_prices),
        "theme": settings.theme,
        "font_zoom": settings.font_zoom,
    })
    return doc


def first_start_settings() -> Settings:
    """The settings of a first start: the default profile, known to have no key saved."""
    settings = Settings()
    return settings.with_profile(dataclasses.replace(settings.active_profile, key_saved=False))


class SettingsStore:
    """Loads and saves ``settings.json`` in ``paths.config_dir``."""

    def __init__(self, paths: AppPaths) -> None:
        self.path = paths.config_dir / FILE_NAME
        self.writable = True  # False once load() found a file it could not read: it is left alone

    def load(self) -> tuple[Settings, str | None]:
        """The stored settings and a notice for the user (None when all went well)."""
        try:
            self.path.lstat()  # a dangling link is not a first start: load_json_file says what it is
        except FileNotFoundError:  # a first start: no key can have been saved, the keyring is not asked
            self.writable = True
            return first_start_settings(), None
        except OSError:
            pass  # load_json_file says what is wrong
        settings, notice, self.writable = load_json_file(
            self.path, settings_from_json, Settings, what="settings file", instead="using defaults",
            instead_long="the default settings are used")
        return settings, notice

    def save(self, settings: Settings) -> None:
        """Write ``settings`` atomically. Raises ``OSError`` (the old file stays) on failure, and
        :class:`LeftAlone` when the file could not be read at load: it may hold the user's profiles."""
        if not self.writable:
            raise LeftAlone(0, "the settings file could not be read when Chatbot started, so it is left as it is")
        ensure_private_dir(self.path.parent)
        text = json.dumps(settings_to_json(settings), indent=2, ensure_ascii=False) + "\n"
        write_atomic(self.path, text)


# The tables' parsers load with the first table that has entries: core/windows.py and core/usage.py
# (their dataclasses, OpenAI's tables) are not on the start-up path when there is none.
def _windows_from_json(data: Any) -> dict[str, int]:
    if not data:
        return {}
    from chatbot_gui.core.windows import overrides_from_json

    return overrides_from_json(data)


def _prices_from_json(data: Any) -> dict[str, Price]:
    if not data:
        return {}
    from chatbot_gui.core.usage import user_prices_from_json

    return user_prices_from_json(data)


def _prices_to_json(table: Mapping[str, Price]) -> dict[str, dict[str, float]]:
    from chatbot_gui.core.usage import prices_to_json

    return prices_to_json(table, all_entries=True)
