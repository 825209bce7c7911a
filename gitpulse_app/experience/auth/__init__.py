"""Sign-in and sessions (SPEC §11): GitHub OAuth, the session cookie, demo sign-in, rate limits.

Submodules are imported where they are needed; this package module stays empty so that the base
Reflex state can import `sessions` without pulling in authlib.
"""
