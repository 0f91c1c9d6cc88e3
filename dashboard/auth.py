"""Sign-in, sessions, CSRF and the security headers, around the whole Flask server of a Dash app.

- **The gate** (:func:`_gate`, a ``before_request``): every route needs a signed-in user, the Dash page,
  its layout and callback endpoints, ``/export*`` and anything added later, except the sign-in page and
  static files (JavaScript bundles, CSS). A page request is sent to the sign-in page; anything else is
  refused with 401. Data code also checks who is asking (:func:`dashboard.access.current_access`).
- **Sessions**: Flask's signed cookie (itsdangerous HMAC; the key is the mission's ``secret_key`` file),
  ``HttpOnly``, ``SameSite=Lax``, ``Secure`` whenever the request came over HTTPS, 12 hours. The session holds
  the account's id and its *session epoch*: resetting a password or disabling an account ends its sessions.
- **CSRF** (Flask-WTF): the sign-in and sign-out forms carry a token; Dash's callbacks send it back in the
  ``X-CSRFToken`` header, which dash-renderer fills from the ``_csrf_token`` cookie set here.
- **Sign-in attempts** are rate-limited by :meth:`dashboard.accounts.Accounts.verify` (from the audit
  trail, so the limit holds across workers and restarts), and every attempt is in the audit.
- **Optional OIDC** (Keycloak and the like) through Authlib, when ``OBSMAP_OIDC_ISSUER`` is set: the
  provider says who the person is; their role and regions are the local account's of the same name.
- **Headers** on every response: a Content-Security-Policy with no outside origin (script hashes for
  Dash's own inline scripts; MapLibre's workers from ``blob:``), ``frame-ancestors 'none'``, ``nosniff``,
  ``Referrer-Policy: same-origin``; mission data is never cached by the browser.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dash import Dash
from dash.exceptions import DependencyException
from flask import Flask, Response, current_app, g, redirect, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from dashboard.accounts import Account, Accounts, Throttled, accounts_path
from geo import i18n
from geo.errors import ObsmapError
from geo.i18n import _, browser_language, languages, ngettext, use

log = logging.getLogger(__name__)

SESSION_HOURS = 12
CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads to fill X-CSRFToken
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
# What an anonymous request may reach, by the route that answers it (not by path: an unknown path under /assets/
# would otherwise reach Dash's catch-all page): static files, and the sign-in pages.
SUITES = "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>"  # Dash names this route by its rule
STATIC_ENDPOINTS = ("static", "_dash_assets.static", SUITES, "/_favicon.ico")
PUBLIC_ENDPOINTS = (*STATIC_ENDPOINTS, "sign_in", "oidc_start", "oidc_callback", "oidc_off")
NO_SIGN_IN_NOTE = "Open demo: no sign-in. Anyone who can reach this machine's 127.0.0.1 can see it."


class User(UserMixin):
    """Flask-Login's view of an :class:`~dashboard.accounts.Account`."""

    def __init__(self, account: Account, session_id: str) -> None:
        self.account = account
        self.session_id = session_id  # account:epoch:random, kept in the accounts file (see Accounts.open_session)

    def get_id(self) -> str:
        return self.session_id


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked ``Secure`` whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def client_address() -> str:
    """The address a request came from (behind a proxy, set ``OBSMAP_BEHIND_PROXY=1`` so it is the client's)."""
    return request.remote_addr or "unknown"


def _local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site (``//evil``, ``https://...``)."""
    if not target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def audit(event: str, detail: dict[str, Any]) -> None:
    """Record what the signed-in user of this request did (an export, forms viewed) in the audit; nothing without accounts."""
    accounts = current_app.extensions.get("obsmap_accounts")
    if accounts is not None and current_user.is_authenticated:
        accounts.record(event, user=current_user.account.username, address=client_address(), detail=detail)


def request_language() -> str:
    """The language of the request being answered: its ``lang=``, or that of the page it leads to (``next=/?lang=ru``),
    else the browser's ``Accept-Language``."""
    for value in (request.values.get("lang"), urlsplit(request.values.get("next") or "").query):
        for part in (value or "").split("&"):
            code = part.removeprefix("lang=")
            if code in languages():
                return code
    return browser_language()


def security_headers(reply: Response, script_hashes: list[str]) -> Response:
    """The headers every reply carries (see the module's docstring)."""
    csp = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        # Plotly and Dash's components set styles in the page (style attributes and <style> elements).
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",  # MapLibre runs its workers from blob: URLs
        "child-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    headers = reply.headers
    headers["Content-Security-Policy"] = "; ".join(f"{k} {v}" for k, v in csp.items())
    headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: the page asks for its layout at /_dash-layout, which has no query string; the
    # browser's Referer (the page's own address, with ?lang=ru) tells the server the page's language. Sent to this
    # server only: no other site ever learns a view's address (and the page loads nothing from another site).
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if not request.path.startswith(STATIC_PREFIXES) and "immutable" not in headers.get("Cache-Control", ""):
        headers["Cache-Control"] = "no-store"  # data is never kept, but for a reply that says it is immutable (the map's shapes)
    return reply


def install(app: Dash, accounts: Accounts | None) -> None:
    """Put the gate, the sign-in pages, CSRF and the headers around ``app``'s server.

    ``accounts`` ``None``: no sign-in at all (the demo on this machine only; the page says so).
    Call after every callback is registered (the CSP hashes Dash's inline scripts).
    """
    server: Flask = app.server
    server.config.update(
        SECRET_KEY=accounts.secret_key() if accounts else secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="obsmap_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session (a page stays open all night)
        WTF_CSRF_SSL_STRICT=False,  # the token does the work (a sign-in page opened from a bookmark has no Referer)
        OBSMAP_OPEN=accounts is None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,  # a callback's payload is a few KB; nothing larger is read
    )
    server.session_interface = _SessionInterface()
    server.extensions["obsmap_accounts"] = accounts
    if os.environ.get("OBSMAP_BEHIND_PROXY") == "1":
        from werkzeug.middleware.proxy_fix import ProxyFix

        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    CSRFProtect(server)
    # The sign-in page's words: {{ _("...") }} in templates/sign_in.html, in the language of the moment.
    server.jinja_env.add_extension("jinja2.ext.i18n")
    server.jinja_env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)  # type: ignore[attr-defined]
    script_hashes = app.csp_hashes()

    @server.after_request
    def _headers(reply: Response) -> Response:
        if request.method == "GET" and not request.path.startswith(STATIC_PREFIXES):
            # dash-renderer sends this cookie back as the X-CSRFToken header of every callback.
            reply.set_cookie(CSRF_COOKIE, generate_csrf(), samesite="Strict", secure=request.is_secure, httponly=False)
        return security_headers(reply, script_hashes)

    @server.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError) -> tuple[str, int]:
        with use(request_language()):
            return _("This form or page has expired (its security token is missing or old): reload the page and try again.") + "\n", 400

    @server.errorhandler(DependencyException)
    def _no_such_file(_exc: DependencyException) -> tuple[str, int]:
        with use(request_language()):
            return _("No such file.") + "\n", 404  # a crafted component-suite path: not a server error

    @server.errorhandler(500)
    def _server_error(_exc: Any) -> tuple[str, int, dict[str, str]]:
        # Never a traceback to the browser: the log has it.
        with use(request_language()):
            said = _("Something went wrong on the server; the details are in the server's log.")
        return said + "\n", 500, {"Content-Type": "text/plain"}

    # Every request speaks its own language, whatever the server's locale: the URL's lang= (or that of the page it
    # leads to), else the browser's. Callbacks and exports narrow it to the view's (``use(filters.lang)``).
    @server.before_request
    def _language() -> None:
        g.obsmap_language = i18n.enter(request_language())

    @server.teardown_request
    def _language_done(_error: BaseException | None) -> None:
        token = g.pop("obsmap_language", None)
        if token is not None:
            i18n.leave(token)

    if accounts is None:
        return

    manager = LoginManager(server)
    manager.session_protection = "basic"

    @manager.user_loader
    def _load(session_id: str) -> User | None:
        account = accounts.by_session_id(session_id)
        return User(account, session_id) if account else None

    @server.before_request
    def _gate() -> Response | tuple[str, int] | None:
        path = request.path
        rule = request.url_rule
        if (rule is not None and rule.endpoint in PUBLIC_ENDPOINTS) or current_user.is_authenticated:
            return None
        if request.method == "GET" and not path.startswith(("/_dash", "/export", "/_reload")):
            return redirect("/sign-in?next=" + _quote_next(request.full_path.rstrip("?")))
        with use(request_language()):
            return _("Sign in first.") + "\n", 401

    def _sign_in_page(error: str | None = None, status: int = 200, username: str = "") -> tuple[str, int]:
        """The sign-in page in the language of the page asked for (``next``'s ``lang=``), else the browser's.
        ``error`` is already in that language."""
        next_path = _local_path(request.values.get("next"))
        with use(request_language()) as lang:
            page = render_template(
                "sign_in.html",
                error=error,
                username=username,
                next=next_path,
                csrf_token=generate_csrf(),
                oidc=oidc is not None,
                lang=lang,
            )
        return page, status

    @server.route("/sign-in", methods=["GET", "POST"])
    def sign_in() -> Any:
        if request.method != "POST":  # GET and HEAD: the page; only a POST (with its CSRF token) signs in
            return _sign_in_page()
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        try:
            with use(request_language()):  # a throttled sign-in says how long to wait in the page's language
                account = accounts.verify(username, password, address=client_address())
        except Throttled as exc:
            return _sign_in_page(str(exc), 429, username)
        if account is None:
            with use(request_language()):
                said = _("Wrong user name or password.")
            return _sign_in_page(said, 401, username)
        _start_session(account)
        return redirect(_local_path(request.form.get("next")))

    @server.route("/sign-out", methods=["POST"])
    def sign_out() -> Any:
        if current_user.is_authenticated:
            accounts.end_session(current_user.get_id())  # the session is over, whoever holds a copy of the cookie
            accounts.record("sign_out", user=current_user.account.username, address=client_address())
        logout_user()
        session.clear()
        return redirect("/sign-in")

    def _start_session(account: Account) -> None:
        session.clear()  # nothing of an earlier session survives the sign-in (no fixation)
        session.permanent = True
        login_user(User(account, accounts.open_session(account)))

    oidc = _install_oidc(server, accounts, _start_session, _sign_in_page)


def _quote_next(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _install_oidc(server: Flask, accounts: Accounts, start_session: Any, sign_in_page: Any) -> Any:
    """``/sign-in/oidc`` and its callback, when ``OBSMAP_OIDC_ISSUER`` names an OpenID Connect provider.

    Settings (environment): ``OBSMAP_OIDC_ISSUER`` (e.g. ``https://sso.mission.local/realms/eom``),
    ``OBSMAP_OIDC_CLIENT_ID``, and the client secret in ``OBSMAP_OIDC_CLIENT_SECRET_FILE`` (a file) or
    ``OBSMAP_OIDC_CLIENT_SECRET``. The person must have a local account of the same user name (the
    provider's ``preferred_username``, else ``email``): obsmap's roles and regions stay obsmap's.
    """
    issuer = os.environ.get("OBSMAP_OIDC_ISSUER")
    if not issuer:
        # Without single sign-on these paths answer 404 (rather than Dash's catch-all page, which needs a sign-in).
        @server.route("/sign-in/oidc")
        @server.route("/sign-in/oidc/callback")
        def oidc_off() -> tuple[str, int]:
            with use(request_language()):
                return _("Single sign-on is not set up on this server.") + "\n", 404

        return None
    from authlib.integrations.flask_client import OAuth

    secret_file = os.environ.get("OBSMAP_OIDC_CLIENT_SECRET_FILE")
    if secret_file:
        with open(secret_file, encoding="utf-8") as handle:
            client_secret = handle.read().strip()
    else:
        client_secret = os.environ.get("OBSMAP_OIDC_CLIENT_SECRET", "")
    oauth = OAuth(server)
    client = oauth.register(
        "oidc",
        client_id=os.environ.get("OBSMAP_OIDC_CLIENT_ID", "obsmap"),
        client_secret=client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )

    @server.route("/sign-in/oidc")
    def oidc_start() -> Any:
        session["oidc_next"] = _local_path(request.args.get("next"))
        return client.authorize_redirect(request.url_root.rstrip("/") + "/sign-in/oidc/callback")

    @server.route("/sign-in/oidc/callback")
    def oidc_callback() -> Any:
        address = client_address()
        try:
            token = client.authorize_access_token()
        except Exception as exc:  # noqa: BLE001 - any failure of the provider's answer is a failed sign-in
            accounts.record("sign_in_failed", user=None, address=address, detail={"via": "oidc", "reason": type(exc).__name__})
            with use(request_language()):
                said = _("The sign-in provider's answer could not be checked; try again.")
            return sign_in_page(said, 401)
        claims = token.get("userinfo")  # the id_token's claims, checked by Authlib against the provider's keys
        if not claims:
            accounts.record("sign_in_failed", user=None, address=address, detail={"via": "oidc", "reason": "no id_token"})
            with use(request_language()):
                said = _("The sign-in provider's answer could not be checked; try again.")
            return sign_in_page(said, 401)
        # An e-mail address names the person only when the provider has verified it.
        email = claims.get("email") if claims.get("email_verified") else None
        name = claims.get("preferred_username") or email or ""
        account = accounts.get(name) if name else None
        if account is None or account.disabled:
            reason = "no local account" if account is None else "account disabled"
            accounts.record("sign_in_failed", user=name[:64] or None, address=address, detail={"via": "oidc", "reason": reason})
            with use(request_language()):
                if name:
                    said = _("{name} has no obsmap account here; ask the mission's admin.").format(name=name)
                else:
                    said = _("This person has no obsmap account here; ask the mission's admin.")
            return sign_in_page(said, 403)
        accounts.record("sign_in", user=account.username, address=address, detail={"via": "oidc"})
        target = session.get("oidc_next", "/")
        start_session(account)
        return redirect(target)

    return client


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def accounts_to_serve(folder: Path, host: str | None, accounts_file: str | Path | None = None) -> Accounts | None:
    """Who may sign in to a server of ``folder`` listening on ``host`` (``None``: unknown, as under gunicorn).

    The folder's accounts (or ``accounts_file``'s) when there are any. Without accounts, only the demo
    mission served on this machine alone (``127.0.0.1``) opens without sign-in; anything else, real data or
    another address, is refused with a sentence that says how to add the first admin.
    """
    from dashboard.paths import demo_dir

    path = Path(accounts_file) if accounts_file else accounts_path(folder)
    if path.exists():
        accounts = Accounts(path)
        if accounts.has_accounts():
            return accounts
    if host in LOOPBACK and Path(folder).resolve() == demo_dir():
        return None
    where = "real mission data" if Path(folder).resolve() != demo_dir() else f"the demo on {host or 'a WSGI server'}"
    raise ObsmapError(
        f"{folder} has no accounts, and obsmap serves {where} only to signed-in users: add the first admin with "
        f"`obsmap users add NAME --role admin --data {folder}`, then start the server again."
    )
