"""The auth endpoints: GitHub login and callback, logout, demo sign-in.

Every redirect is absolute (`GITPULSE_BASE_URL` + path). Callback failures never leave a partial
sign-in behind: they end on `/settings` (signed in) or `/` with `?github=error&message=…`, which the
page shows as a toast.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import sqlalchemy as sa
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import DatabaseUnavailable
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth import oauth
from gitpulse_app.experience.auth.next_guard import safe_next
from gitpulse_app.experience.auth.sessions import (
    clear_session_cookie,
    end_session,
    session_user_id,
    set_session_cookie,
)
from gitpulse_app.experience.auth.users import (
    DemoNotSeeded,
    SignIn,
    record_sign_in,
    sign_in_demo_user,
)
from gitpulse_app.experience.routes import SESSION_COOKIE

NOT_CONFIGURED_JSON = "GitHub OAuth not configured. Set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET."
DEMO_NOT_SEEDED = "Demo workspace not seeded. Run: python -m gitpulse_app demo seed"
SERVICE_UNAVAILABLE = "Service temporarily unavailable. Please try again."
NEXT_KEY = "gitpulse_next"

# Callback messages, shown to the user as a toast.
MSG_UNKNOWN_ERROR = "Unknown error"
MSG_MISSING_CODE = "Missing authorization code"
MSG_INVALID_STATE = "Invalid state token"
MSG_NOT_CONFIGURED = "GitHub OAuth not configured"
MSG_EXCHANGE_FAILED = "Failed to exchange code for token"
MSG_PROFILE_FAILED = "Failed to fetch GitHub user profile"
MSG_UNEXPECTED = "An unexpected error occurred"

_DB_DOWN = (DatabaseUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)

log = logging.getLogger(__name__)


class CallbackFailed(Exception):
    """A callback step failed; the message is what the user is shown."""


def absolute(path: str) -> str:
    """`GITPULSE_BASE_URL` + path: every backend redirect is absolute."""
    return get_settings().base_url + path


# GET /auth/github/login -------------------------------------------------------------------------
async def github_login(request: Request) -> Response:
    """302 to GitHub's authorize page; the state and the guarded `next` go in the signed session."""
    if not get_settings().oauth_configured:
        return JSONResponse({"error": NOT_CONFIGURED_JSON}, status_code=503)
    request.session[NEXT_KEY] = safe_next(request.query_params.get("next"))
    return await oauth.github_oauth_client().authorize_redirect(request, oauth.callback_url())


# GET /auth/github/callback ----------------------------------------------------------------------
async def github_callback(request: Request) -> Response:
    """Finish the OAuth round trip: tokens, profile, user, installations, session, redirect."""
    try:
        return await _callback(request)
    finally:
        request.session.clear()  # the flow is over either way: drop its state and `next`


async def _callback(request: Request) -> Response:
    next_path = safe_next(request.session.pop(NEXT_KEY, None))
    previous_token = request.cookies.get(SESSION_COOKIE)
    try:
        sign_in = await _complete_sign_in(request, previous_token)
    except CallbackFailed as exc:
        return await _error_redirect(request, str(exc))
    except _DB_DOWN:
        log.warning("GitHub sign-in failed: database unavailable")
        return await _error_redirect(request, SERVICE_UNAVAILABLE)
    except Exception:
        log.exception("GitHub sign-in failed unexpectedly")
        return await _error_redirect(request, MSG_UNEXPECTED)

    for installation_id in sign_in.installations_to_sync:
        await _request_first_sync(installation_id, sign_in.user_id)
    log.info("Signed in with GitHub", extra={"user_id": sign_in.user_id,
                                            "reconnected": sign_in.reconnected})
    if sign_in.reconnected:
        target = f"{routes.SETTINGS}?github=connected"
    elif not sign_in.onboarded:
        target = routes.ONBOARDING
    else:
        target = next_path
    response = RedirectResponse(absolute(target), status_code=302)
    set_session_cookie(response, sign_in.session_token)
    return response


async def _complete_sign_in(request: Request, previous_token: str | None) -> SignIn:
    params = request.query_params
    if params.get("error"):
        raise CallbackFailed(params.get("error_description") or MSG_UNKNOWN_ERROR)
    if not params.get("code") or not params.get("state"):
        raise CallbackFailed(MSG_MISSING_CODE)
    if not get_settings().oauth_configured:
        raise CallbackFailed(MSG_NOT_CONFIGURED)

    tokens = await _exchange_code(request)
    try:
        identity = await oauth.fetch_identity(tokens.access_token)
    except oauth.ProfileFetchFailed as exc:
        log.warning("GitHub sign-in: profile fetch failed", extra={"reason": str(exc)})
        raise CallbackFailed(MSG_PROFILE_FAILED) from None
    installations = await _installations_or_none(tokens.access_token)
    return await asyncio.to_thread(
        _record_with_one_retry,
        identity,
        tokens,
        installations,
        request.headers.get("user-agent"),
        previous_token,
    )


async def _exchange_code(request: Request) -> oauth.OAuthTokens:
    try:
        token = await oauth.github_oauth_client().authorize_access_token(request)
    except MismatchingStateError:
        raise CallbackFailed(MSG_INVALID_STATE) from None
    except OAuthError as exc:
        # A 200 from GitHub carrying `error` (bad_verification_code, …): show its description.
        raise CallbackFailed(exc.description or exc.error or MSG_EXCHANGE_FAILED) from None
    except Exception as exc:  # non-2xx (our compliance hook), unreadable body, network
        log.warning("GitHub sign-in: code exchange failed", extra={"reason": type(exc).__name__})
        raise CallbackFailed(MSG_EXCHANGE_FAILED) from None
    try:
        return oauth.OAuthTokens.from_response(dict(token))
    except oauth.TokenExchangeFailed:
        raise CallbackFailed(MSG_EXCHANGE_FAILED) from None


async def _installations_or_none(access_token: str) -> list[dict] | None:
    # With a plain OAuth App this is refused (403/404); linking then relies on the install
    # webhook and the daily reconcile, so the sign-in goes on.
    try:
        return await oauth.list_user_installations(access_token)
    except oauth.InstallationsUnavailable as exc:
        log.info("GitHub sign-in: installations not listed", extra={"reason": str(exc)})
        return None


def _record_with_one_retry(
    identity: oauth.GitHubIdentity,
    tokens: oauth.OAuthTokens,
    installations: list[dict] | None,
    user_agent: str | None,
    previous_token: str | None,
) -> SignIn:
    def record() -> SignIn:
        return record_sign_in(identity, tokens, installations, user_agent=user_agent,
                              previous_token=previous_token)

    try:
        return record()
    except sa.exc.IntegrityError:
        # A concurrent sign-in of the same account inserted first; the second try finds its row.
        return record()


async def _request_first_sync(installation_id: int, user_id: int) -> None:
    """A `webhook` sync for a newly linked, never-synced installation; failure never fails sign-in."""
    try:
        await asyncio.to_thread(request_sync, installation_id, "webhook", user_id=user_id)
    except Exception:
        log.warning("Could not request the first sync of a linked installation",
                    extra={"installation_id": installation_id}, exc_info=True)


async def _error_redirect(request: Request, message: str) -> RedirectResponse:
    signed_in = await asyncio.to_thread(session_user_id, request) is not None
    path = routes.SETTINGS if signed_in else routes.LANDING
    query = urlencode({"github": "error", "message": message})
    return RedirectResponse(absolute(f"{path}?{query}"), status_code=302)


# POST /auth/logout ------------------------------------------------------------------------------
async def logout(request: Request) -> Response:
    """End this browser's session: delete the row, clear the cookie, 303 to `/`."""
    try:
        await asyncio.to_thread(end_session, request.cookies.get(SESSION_COOKIE))
    except _DB_DOWN:
        return JSONResponse({"error": SERVICE_UNAVAILABLE}, status_code=503)
    response = RedirectResponse(absolute(routes.LANDING), status_code=303)
    clear_session_cookie(response)
    return response


# GET /auth/demo ---------------------------------------------------------------------------------
async def demo_sign_in(request: Request) -> Response:
    """Sign into the seeded demo user (`GITPULSE_DEMO=1` only) and go to the guarded `next`."""
    if not get_settings().demo_enabled:
        return JSONResponse({"error": "Not found"}, status_code=404)
    try:
        token = await asyncio.to_thread(sign_in_demo_user, request.headers.get("user-agent"))
    except DemoNotSeeded:
        return JSONResponse({"error": DEMO_NOT_SEEDED}, status_code=503)
    except _DB_DOWN:
        return JSONResponse({"error": SERVICE_UNAVAILABLE}, status_code=503)
    response = RedirectResponse(
        absolute(safe_next(request.query_params.get("next"))), status_code=302
    )
    set_session_cookie(response, token)
    return response
