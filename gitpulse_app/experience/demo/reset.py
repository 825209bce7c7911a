"""Delete the demo workspace's rows, and only those (`demo seed --reset`).

Demo rows are recognised by what only the demo has: sources of kind `demo` (and the demo's GitHub
installation id), repositories with the demo's GitHub ids, `is_demo` users, and the demo team's
GitHub ids for people who never signed up and have no facts left elsewhere. Everything hanging off
them goes too: facts of demo repositories with their queue rows, coverage rows and (unshared)
vectors, reports of demo users with their coverage, regenerations and email rows, their sessions,
the demo source's links, choices, envelopes and any sync rows. All in one transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    AuthSession,
    CoverageCandidate,
    EmailDelivery,
    Embedding,
    EmbeddingQueueItem,
    Event,
    IngestionJob,
    Installation,
    Report,
    ReportRegeneration,
    Repo,
    SyncBatch,
    TrackedRepo,
    User,
    UserInstallation,
    WebhookEvent,
)
from gitpulse_app.experience.demo import catalog

DEMO_REPO_IDS = tuple(repo.gh_id for repo in catalog.REPOS)
DEMO_PEOPLE_IDS = tuple(person.gh_id for person in catalog.PEOPLE)


def delete_demo_data() -> dict[str, int]:
    """Delete every demo row in one transaction.

    Returns:
        How many rows went, per kind (facts, reports, users, repos, installations, envelopes).
    """
    with session_scope() as session:
        run = session.execute
        repos = sa.select(Repo.id).where(col(Repo.gh_id).in_(DEMO_REPO_IDS))
        sources = sa.select(Installation.id).where(sa.or_(
            Installation.kind == "demo",
            Installation.gh_installation_id == catalog.INSTALLATION_ID))
        demo_users = sa.select(User.id).where(col(User.is_demo).is_(True))
        facts = sa.select(Event.id).where(col(Event.repo_id).in_(repos))
        reports = sa.select(Report.id).where(col(Report.user_id).in_(demo_users))
        hashes = set(run(sa.select(Event.content_hash).where(
            col(Event.repo_id).in_(repos))).scalars())
        source_ids = list(run(sources).scalars())
        user_ids = list(run(demo_users).scalars())

        run(sa.delete(CoverageCandidate).where(sa.or_(
            col(CoverageCandidate.report_id).in_(reports),
            col(CoverageCandidate.event_id).in_(facts))))
        run(sa.delete(EmailDelivery).where(col(EmailDelivery.report_id).in_(reports)))
        run(sa.delete(ReportRegeneration).where(
            col(ReportRegeneration.user_id).in_(user_ids)))
        counts = {"reports": run(sa.delete(Report).where(
            col(Report.user_id).in_(user_ids))).rowcount}
        run(sa.delete(EmbeddingQueueItem).where(col(EmbeddingQueueItem.event_id).in_(facts)))
        counts["facts"] = run(sa.delete(Event).where(col(Event.repo_id).in_(repos))).rowcount
        # Vectors are keyed by content hash: keep those another fact still uses.
        if hashes:
            still_used = sa.select(Event.content_hash)
            run(sa.delete(Embedding).where(
                col(Embedding.content_hash).in_(hashes),
                col(Embedding.content_hash).not_in(still_used)))
        counts["envelopes"] = run(sa.delete(WebhookEvent).where(
            WebhookEvent.installation_gh_id == catalog.INSTALLATION_ID)).rowcount
        counts["repos"] = run(sa.delete(Repo).where(col(Repo.id).in_(repos))).rowcount

        if source_ids:
            # Facts elsewhere never came through the demo source; if one claims to, keep the fact.
            run(sa.update(Event).where(col(Event.installation_id).in_(source_ids))
                .values(installation_id=None))
            run(sa.delete(IngestionJob).where(col(IngestionJob.installation_id).in_(source_ids)))
            run(sa.delete(SyncBatch).where(col(SyncBatch.installation_id).in_(source_ids)))
        run(sa.delete(UserInstallation).where(sa.or_(
            col(UserInstallation.installation_id).in_(source_ids),
            col(UserInstallation.user_id).in_(user_ids))))
        run(sa.delete(TrackedRepo).where(sa.or_(
            col(TrackedRepo.installation_id).in_(source_ids),
            col(TrackedRepo.user_id).in_(user_ids))))
        counts["installations"] = run(sa.delete(Installation).where(
            col(Installation.id).in_(source_ids))).rowcount
        run(sa.delete(AuthSession).where(col(AuthSession.user_id).in_(user_ids)))

        # People go unless they still act in facts elsewhere; teammates also unless they signed up.
        actors = sa.select(Event.actor_id)
        teammates = sa.and_(col(User.gh_id).in_(DEMO_PEOPLE_IDS),
                            col(User.signed_up_at).is_(None))
        counts["users"] = run(sa.delete(User).where(
            sa.or_(col(User.id).in_(user_ids), teammates),
            col(User.id).not_in(actors))).rowcount
    return counts
