"""GitHub REST client and App authentication.

Import from here: `GitHubClient`, the token sources, `token_source_for`, and the errors.
"""

from .auth import (
    AppAuth,
    AppInstallationTokenSource,
    AppJWTTokenSource,
    StaticTokenSource,
    TokenSource,
    client_for,
    get_app_auth,
    token_source_for,
)
from .client import GitHubClient, api_headers
from .errors import (
    AuthError,
    ConfigError,
    GitHubError,
    NotModified,
    RateLimited,
    TokenMintError,
    UnreadableResponse,
)
from .models import Page, RateLimitInfo, Response

__all__ = [
    "AppAuth",
    "AppInstallationTokenSource",
    "AppJWTTokenSource",
    "AuthError",
    "ConfigError",
    "GitHubClient",
    "GitHubError",
    "NotModified",
    "Page",
    "RateLimitInfo",
    "RateLimited",
    "Response",
    "StaticTokenSource",
    "TokenMintError",
    "TokenSource",
    "UnreadableResponse",
    "api_headers",
    "client_for",
    "get_app_auth",
    "token_source_for",
]
