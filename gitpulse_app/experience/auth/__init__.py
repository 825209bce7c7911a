"""Sign-in and sessions: GitHub OAuth, the session cookie, demo sign-in, rate limits.

What is enforced and why: docs/SECURITY.md.

Submodules are imported where they are needed; this package module stays empty so that the base
Reflex state can import `sessions` without pulling in authlib.
"""
