"""Single sign-on (OIDC): the whole flow against a fake OpenID Connect provider on 127.0.0.1.

The provider (:class:`FakeProvider`) is a small Flask app served in a background thread: discovery, an
authorization endpoint that approves at once (as if the person had typed their password there), a token
endpoint that checks the code, the client's secret and the PKCE verifier and returns an RS256 id_token
signed with a key made here, its JWKS and a userinfo endpoint. obsmap is driven through Flask's test client
as a browser would: ``/sign-in/oidc`` -> the provider (over HTTP, with ``requests``) -> back to
``/sign-in/oidc/callback``. obsmap's Authlib client reaches the provider over real sockets (discovery, token,
JWKS); plain HTTP is accepted because the provider is on the loopback address (no AUTHLIB_INSECURE_TRANSPORT).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
import secrets
import shutil
import threading
import time
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest
import requests
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

from dashboard.accounts import Accounts
from dashboard.app import create_app

CLIENT_ID = "obsmap-eom"
CLIENT_SECRET = "Kx9-oidc-client-secret-5521"  # distinctive: searched for in every log, audit row and page
PASSWORD = "Zq7-correct-horse-4417"
CALLBACK = "http://localhost/sign-in/oidc/callback"  # what obsmap tells the provider (the test client's host)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # no access log on stderr
        pass


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class FakeProvider:
    """An OpenID Connect provider that knows one client and approves whoever :attr:`person` is.

    Tests change :attr:`person` (the claims the next id_token carries; a ``None`` value drops a claim),
    :attr:`sign_with` / :attr:`kid` (the key that signs it and the ``kid`` its header names) and
    :attr:`no_id_token`. Every code is single use and bound to its redirect_uri, nonce and PKCE challenge.
    """

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.app = Flask("fake_oidc_provider")
        self._routes()
        self.server = make_server("127.0.0.1", 0, self.app, request_handler=_Quiet)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.reset()

    def reset(self) -> None:
        self.person: dict = {"sub": "f3a1-ana", "preferred_username": "ana", "email": "ana@mission.example"}
        self.sign_with: RSAKey = self.key
        self.kid: str | None = None
        self.no_id_token = False
        self.codes: dict[str, dict] = {}
        self.authorizations: list[dict] = []  # every authorization request's parameters
        self.token_requests: list[dict] = []  # every token request's form (and how the client authenticated)
        self.access_tokens: dict[str, dict] = {}
        self.errors: list[str] = []  # why the provider refused a request (a test that expects success asserts none)

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def refuse(self, why: str, status: int = 400, error: str = "invalid_request"):
        self.errors.append(why)
        return jsonify(error=error, error_description=why), status

    def _routes(self) -> None:
        app = self.app

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=self.issuer + "/authorize",
                token_endpoint=self.issuer + "/token",
                jwks_uri=self.issuer + "/jwks",
                userinfo_endpoint=self.issuer + "/userinfo",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                scopes_supported=["openid", "email", "profile"],
            )

        @app.get("/authorize")
        def authorize():
            args = request.args.to_dict()
            self.authorizations.append(args)
            if args.get("client_id") != CLIENT_ID:
                return self.refuse("unknown client_id", error="unauthorized_client")
            if args.get("response_type") != "code" or "openid" not in args.get("scope", "").split():
                return self.refuse("expected response_type=code and scope openid")
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge") or not args.get("state"):
                return self.refuse("expected a state and a PKCE S256 code_challenge")
            code = secrets.token_urlsafe(24)
            self.codes[code] = {
                "redirect_uri": args["redirect_uri"],
                "challenge": args["code_challenge"],
                "nonce": args.get("nonce"),
                "person": dict(self.person),
            }
            return redirect(args["redirect_uri"] + "?" + urlencode({"code": code, "state": args["state"]}))

        @app.post("/token")
        def token():
            form = request.form.to_dict()
            client_id, secret, how = form.get("client_id"), form.get("client_secret"), "client_secret_post"
            auth = request.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
                client_id, secret, how = unquote(user), unquote(password), "client_secret_basic"
            self.token_requests.append({**{k: v for k, v in form.items() if k != "client_secret"}, "auth": how})
            if client_id != CLIENT_ID or secret != CLIENT_SECRET:
                return self.refuse("wrong client id or secret", 401, "invalid_client")
            if form.get("grant_type") != "authorization_code":
                return self.refuse("expected grant_type=authorization_code", error="unsupported_grant_type")
            grant = self.codes.pop(form.get("code", ""), None)  # single use
            if grant is None:
                return self.refuse("unknown or used code", error="invalid_grant")
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return self.refuse("redirect_uri differs from the authorization request's", error="invalid_grant")
            if _s256(form.get("code_verifier", "")) != grant["challenge"]:
                return self.refuse("PKCE code_verifier does not match the code_challenge", error="invalid_grant")
            now = int(time.time())
            claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "auth_time": now, "nonce": grant["nonce"]}
            claims.update(grant["person"])
            claims = {k: v for k, v in claims.items() if v is not None}
            access_token = secrets.token_urlsafe(24)
            self.access_tokens[access_token] = claims
            reply = {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "scope": "openid email profile"}
            if not self.no_id_token:
                header = {"alg": "RS256", "typ": "JWT", "kid": self.kid or self.sign_with.kid}
                reply["id_token"] = jwt.encode(header, claims, self.sign_with)
            return jsonify(reply)

        @app.get("/jwks")
        def jwks():
            return jsonify(keys=[{**self.key.as_dict(private=False), "use": "sig", "alg": "RS256"}])

        @app.get("/userinfo")
        def userinfo():
            claims = self.access_tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
            if claims is None:
                return self.refuse("unknown access token", 401, "invalid_token")
            return jsonify({k: v for k, v in claims.items() if k in ("sub", "preferred_username", "email", "name")})


@pytest.fixture(scope="module")
def provider_server():
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def provider(provider_server) -> FakeProvider:
    provider_server.reset()
    return provider_server


@pytest.fixture(scope="module")
def accounts_template(tmp_path_factory):
    """ada (admin), ana (analyst) and dora (viewer, disabled): made once (the password hashes take a while)."""
    folder = tmp_path_factory.mktemp("accounts")
    accounts = Accounts(folder / "accounts.sqlite", create=True)
    accounts.add("ada", PASSWORD, "admin", by="test", address="local")
    accounts.add("ana", PASSWORD, "analyst", by="test", address="local")
    accounts.add("dora", PASSWORD, "viewer", by="test", address="local")
    accounts.disable("dora", by="test", address="local")
    return folder


@pytest.fixture
def accounts(accounts_template, tmp_path) -> Accounts:
    """A copy of the template for each test (tests enable, add and audit)."""
    shutil.copytree(accounts_template, tmp_path / "accounts")
    return Accounts(tmp_path / "accounts" / "accounts.sqlite")


@pytest.fixture
def app(demo, accounts, provider, tmp_path, monkeypatch):
    """The dashboard with single sign-on through ``provider``; the client secret in a file (with its newline)."""
    secret_file = tmp_path / "oidc-client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("OBSMAP_OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("OBSMAP_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OBSMAP_OIDC_CLIENT_SECRET_FILE", str(secret_file))
    monkeypatch.delenv("OBSMAP_OIDC_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)  # loopback http must do without it
    return create_app(demo, accounts=accounts)


# ------------------------------------------------------------------------------------ the browser's steps
def start(client, next_: str = "/?form=voting") -> str:
    """Click "single sign-on": obsmap's redirect to the provider's authorization endpoint."""
    reply = client.get("/sign-in/oidc?next=" + quote(next_, safe=""))
    assert reply.status_code == 302, reply.data
    return reply.headers["Location"]


def at_provider(location: str) -> str:
    """The provider's authorization endpoint, over HTTP: where it sends the browser back."""
    with requests.get(location, allow_redirects=False, timeout=10) as answer:
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


def back(client, callback_url: str):
    """The browser follows the provider's redirect to obsmap's callback."""
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK, callback_url
    return client.get(f"{parts.path}?{parts.query}")


def sign_in_oidc(client, next_: str = "/?form=voting"):
    return back(client, at_provider(start(client, next_)))


def signed_in(client) -> bool:
    status = client.get("/_dash-layout").status_code
    assert status in (200, 401), status
    return status == 200


def last_audit(accounts: Accounts) -> dict:
    return accounts.audit_rows()[-1]


# ------------------------------------------------------------------------------------ signing in
def test_a_known_account_signs_in_and_lands_where_it_was_going(app, accounts, provider):
    client = app.server.test_client()
    assert not signed_in(client)
    location = start(client)
    where = urlsplit(location)
    assert f"{where.scheme}://{where.netloc}{where.path}" == provider.issuer + "/authorize"
    asked = {k: v[0] for k, v in parse_qs(where.query).items()}
    assert asked["client_id"] == CLIENT_ID and asked["response_type"] == "code" and asked["redirect_uri"] == CALLBACK
    assert set(asked["scope"].split()) == {"openid", "email", "profile"}
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43  # base64url of a SHA-256
    assert asked["state"] and asked["nonce"]
    assert "client_secret" not in location and CLIENT_SECRET not in location

    reply = back(client, at_provider(location))
    assert reply.status_code == 302 and reply.headers["Location"] == "/?form=voting", reply.data
    assert signed_in(client)
    assert client.get("/?form=voting").status_code == 200
    assert provider.errors == []
    # The token request proved the PKCE verifier and authenticated the client with the secret from the file.
    (token_request,) = provider.token_requests
    assert token_request["auth"] == "client_secret_basic" and _s256(token_request["code_verifier"]) == asked["code_challenge"]
    row = last_audit(accounts)
    assert (row["event"], row["user"], row["detail"]) == ("sign_in", "ana", {"via": "oidc"})
    # The local account's role is what the session gets: an analyst, not an admin.
    from scripts.dash_client import DashClient

    page = DashClient(app, client=client)
    page.fire("url", "search", "?form=voting")
    assert page.client.get("/export.csv?form=voting").status_code == 200


def test_the_email_stands_in_when_the_provider_gives_no_user_name(app, accounts, provider):
    accounts.add("eve@mission.example", PASSWORD, "viewer", by="test", address="local")
    provider.person = {"sub": "f3a1-eve", "preferred_username": None, "email": "eve@mission.example", "email_verified": False}
    client = app.server.test_client()
    assert sign_in_oidc(client, "/").status_code == 403 and not signed_in(client)  # an address the provider has not verified
    provider.person["email_verified"] = True
    assert sign_in_oidc(client, "/").status_code == 302 and signed_in(client)
    assert last_audit(accounts)["user"] == "eve@mission.example"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_single_sign_on_never_sends_anyone_to_another_site(app, target):
    client = app.server.test_client()
    reply = sign_in_oidc(client, target)
    assert reply.status_code == 302 and reply.headers["Location"] == "/"


def test_signing_in_starts_a_new_session(app, provider):
    """Nothing the browser brought before the sign-in survives it (no session fixation), the OIDC state included."""
    client = app.server.test_client()
    location = start(client)
    with client.session_transaction() as before:
        assert any(k.startswith("_state_oidc_") for k in before) and before["oidc_next"] == "/?form=voting"
        before["planted"] = "by an attacker"
    assert back(client, at_provider(location)).status_code == 302
    with client.session_transaction() as after:
        assert "planted" not in after and "oidc_next" not in after and not any(k.startswith("_state_oidc_") for k in after)


# ------------------------------------------------------------------------------------ who is refused
def test_a_person_without_a_local_account_is_refused(app, accounts, provider):
    provider.person = {"sub": "9c2e-mallory", "preferred_username": "mallory", "email": "mallory@elsewhere.example"}
    client = app.server.test_client()
    reply = sign_in_oidc(client)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 403 and "mallory has no obsmap account here" in page and 'id="sign-in-error"' in page
    assert not signed_in(client)
    row = last_audit(accounts)
    assert (row["event"], row["user"], row["detail"]) == ("sign_in_failed", "mallory", {"via": "oidc", "reason": "no local account"})


def test_a_hostile_name_from_the_provider_is_escaped_on_the_page(app, accounts, provider):
    provider.person = {"sub": "x", "preferred_username": '<img src=x onerror="alert(1)">\x1b[31m', "email": None}
    client = app.server.test_client()
    reply = sign_in_oidc(client)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 403 and "<img" not in page and "&lt;img src=x" in page
    assert not signed_in(client)
    assert last_audit(accounts)["user"] == '<img src=x onerror="alert(1)">?[31m'  # the audit keeps printable text only


def test_a_disabled_account_is_refused(app, accounts, provider):
    provider.person = {"sub": "77d0-dora", "preferred_username": "dora", "email": "dora@mission.example"}
    client = app.server.test_client()
    reply = sign_in_oidc(client)
    assert reply.status_code == 403 and "dora has no obsmap account here" in reply.get_data(as_text=True)
    assert not signed_in(client)
    row = last_audit(accounts)
    assert row["event"] == "sign_in_failed" and row["user"] == "dora" and row["detail"]["via"] == "oidc"
    # Enabled again, the same person gets in.
    accounts.enable("dora", by="test", address="local")
    assert sign_in_oidc(client).status_code == 302 and signed_in(client)


def test_a_provider_answer_without_an_id_token_is_refused(app, accounts, provider):
    provider.no_id_token = True
    client = app.server.test_client()
    reply = sign_in_oidc(client)
    assert reply.status_code in (401, 403) and not signed_in(client)
    assert last_audit(accounts)["event"] == "sign_in_failed"


# ------------------------------------------------------------------------------------ forged answers
def _other_key_same_kid(provider: FakeProvider) -> None:
    provider.sign_with, provider.kid = RSAKey.generate_key(2048, auto_kid=True), provider.key.kid


def _other_key(provider: FakeProvider) -> None:
    provider.sign_with = RSAKey.generate_key(2048, auto_kid=True)


FORGERIES = {
    "signed with another key, naming the provider's kid": _other_key_same_kid,
    "signed with another key of its own kid": _other_key,
    "for another client (aud)": lambda p: p.person.update(aud="another-client"),
    "from another issuer": lambda p: p.person.update(iss="http://127.0.0.1:1/realms/evil"),
    "for another sign-in (nonce)": lambda p: p.person.update(nonce="not-the-nonce-obsmap-sent"),
    "expired an hour ago": lambda p: p.person.update(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_an_id_token_that_does_not_check_out_is_refused(app, accounts, provider, forge):
    forge(provider)
    client = app.server.test_client()
    reply = sign_in_oidc(client)
    assert reply.status_code == 401, reply.data
    assert "answer could not be checked" in reply.get_data(as_text=True)
    assert not signed_in(client)
    assert provider.errors == []  # the provider handed the token out; obsmap is the one that refused it
    row = last_audit(accounts)
    assert row["event"] == "sign_in_failed" and row["user"] is None and row["detail"]["via"] == "oidc"


def test_a_forged_state_is_refused(app, accounts, provider):
    """A callback whose state is not the one this browser was given (login CSRF): refused, even with a good code."""
    client = app.server.test_client()
    callback = urlsplit(at_provider(start(client)))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    forged = client.get("/sign-in/oidc/callback?" + urlencode({"code": query["code"], "state": "forged-" + query["state"]}))
    assert forged.status_code == 401 and not signed_in(client)
    assert last_audit(accounts)["detail"] == {"via": "oidc", "reason": "MismatchingStateError"}
    assert client.get("/sign-in/oidc/callback?" + urlencode({"code": query["code"]})).status_code == 401
    assert client.get("/sign-in/oidc/callback").status_code == 401
    assert not signed_in(client)
    assert provider.token_requests == []  # obsmap never redeemed the code


def test_an_attackers_callback_in_someone_elses_browser_is_refused(app, provider):
    """Login CSRF: the attacker's own code and state, planted in a victim's browser that started its own sign-in."""
    attacker, victim = app.server.test_client(), app.server.test_client()
    attackers_callback = at_provider(start(attacker))
    at_provider(start(victim))
    assert back(victim, attackers_callback).status_code == 401 and not signed_in(victim)


def test_a_replayed_callback_is_refused(app, accounts, provider):
    client = app.server.test_client()
    callback = at_provider(start(client))
    assert back(client, callback).status_code == 302 and signed_in(client)
    # Replayed in another browser (a callback URL copied from a history or a log), and in the same one after signing out.
    elsewhere = app.server.test_client()
    assert back(elsewhere, callback).status_code == 401 and not signed_in(elsewhere)
    from scripts.dash_client import csrf_token

    assert client.post("/sign-out", data={"csrf_token": csrf_token(client)}).status_code == 302
    assert back(client, callback).status_code == 401 and not signed_in(client)
    assert [r["event"] for r in accounts.audit_rows()][-4:] == ["sign_in", "sign_in_failed", "sign_out", "sign_in_failed"]


def test_the_provider_saying_no_is_a_failed_sign_in(app, accounts, provider):
    """The person cancelled at the provider: it comes back with ``error=access_denied`` and obsmap's state."""
    client = app.server.test_client()
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    reply = client.get("/sign-in/oidc/callback?" + urlencode({"error": "access_denied", "state": state}))
    assert reply.status_code == 401 and not signed_in(client)
    assert last_audit(accounts)["detail"] == {"via": "oidc", "reason": "OAuthError"}


# ------------------------------------------------------------------------------------ the page, the secret
def test_the_sign_in_page_offers_single_sign_on_only_when_configured(demo, accounts, app, monkeypatch):
    client = app.server.test_client()
    target = "/?form=voting&region=KZ-KAR"
    page = client.get("/sign-in?next=" + quote(target, safe="")).get_data(as_text=True)
    assert "single sign-on" in page
    # The link keeps where the person was going, and following it signs them in there.
    (link,) = re.findall(r'href="(/sign-in/oidc\?[^"]*)"', page)
    reply = back(client, at_provider(client.get(html.unescape(link)).headers["Location"]))
    assert reply.status_code == 302 and reply.headers["Location"] == target and signed_in(client)
    for name in ("OBSMAP_OIDC_ISSUER", "OBSMAP_OIDC_CLIENT_ID", "OBSMAP_OIDC_CLIENT_SECRET_FILE"):
        monkeypatch.delenv(name)
    plain = create_app(demo, accounts=accounts).server.test_client()
    page = plain.get("/sign-in?next=/?form=voting").get_data(as_text=True)
    assert "single sign-on" not in page and "/sign-in/oidc" not in page
    assert plain.get("/sign-in/oidc?next=/").status_code == 404 and plain.get("/sign-in/oidc/callback").status_code == 404


def test_the_client_secret_never_reaches_a_log_the_audit_or_a_page(app, accounts, provider, caplog):
    caplog.set_level(logging.DEBUG)
    client = app.server.test_client()
    replies = [client.get("/sign-in"), client.get("/sign-in/oidc?next=/")]
    replies.append(sign_in_oidc(client))  # signed in: the provider accepted the secret
    assert replies[-1].status_code == 302 and provider.errors == []
    provider.person = {"sub": "x", "preferred_username": "mallory"}
    replies.append(sign_in_oidc(app.server.test_client()))
    provider.person = {"sub": "f3a1-ana", "preferred_username": "ana", "aud": "another-client"}
    replies.append(sign_in_oidc(app.server.test_client()))
    assert [r.status_code for r in replies][-2:] == [403, 401]
    seen = "\n".join(r.get_data(as_text=True) + json.dumps(dict(r.headers)) for r in replies)
    assert CLIENT_SECRET not in seen
    assert CLIENT_SECRET not in caplog.text
    assert CLIENT_SECRET not in json.dumps(accounts.audit_rows())
    assert {r["auth"] for r in provider.token_requests} == {"client_secret_basic"}  # in the Authorization header, not the form
