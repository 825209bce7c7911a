"""Writing a report on a cache miss: the model chain or the local writer, then validation.

Every writer's output (the model, the local writer, a reused partial report) passes the same
citation filter and coverage measure before it is saved. The report service imports this module
only when the cache has no answer, so a cache hit loads none of the writers, the prompt, the
validator or the markdown renderer (docs/STARTUP.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.models import Report
from gitpulse_app.intelligence.reports.llm import PROVIDER as LLM_PROVIDER
from gitpulse_app.intelligence.reports.llm import ChainFailed, ReportModelChain
from gitpulse_app.intelligence.reports.local_writer import write_local
from gitpulse_app.intelligence.reports.models import (
    EMPTY_PROVIDER,
    NO_ACTIVITY,
    SECTION_TITLES,
    Collection,
    Section,
    Written,
)
from gitpulse_app.intelligence.reports.plan import ReportPlan
from gitpulse_app.intelligence.reports.prompt import build_messages
from gitpulse_app.intelligence.reports.render import (
    date_label,
    render_html,
    render_markdown,
    report_description,
    report_title,
)
from gitpulse_app.intelligence.reports.save import SavedContent
from gitpulse_app.intelligence.reports.validate import (
    allowed_urls,
    filter_citations,
    measure_coverage,
    report_citations,
    validate_answer,
)


def empty_written(kind: str) -> Written:
    """A window without facts: every section says there was no activity; no writer ran."""
    sections = [Section(title, [NO_ACTIVITY]) for title in SECTION_TITLES[kind]]
    return Written(sections, EMPTY_PROVIDER, EMPTY_PROVIDER)


def write(plan: ReportPlan, collection: Collection, sleep: Callable[[float], None]) -> Written:
    """The LLM chain when a key is configured, else (or when it fails) the local writer."""
    settings = get_settings()
    team = plan.scope.is_team
    if not settings.openai_api_key:
        return write_local(plan.kind, collection.facts, team=team)
    titles = SECTION_TITLES[plan.kind]
    messages = build_messages(
        plan.kind, who=plan.scope.who,
        date_label=date_label(plan.kind, plan.window.start, plan.window.end, plan.zone_key),
        collection=collection, query=plan.scope.query, team=team)
    chain = ReportModelChain(settings.openai_api_key, settings.openai_base_url,
                             [settings.llm_model, settings.llm_fallback_model or ""], sleep=sleep)
    try:
        allowed = allowed_urls(collection.facts)
        result = chain.run(messages, lambda text: validate_answer(text, titles, allowed))
    except ChainFailed as failure:
        written = write_local(plan.kind, collection.facts, team=team)
        usage = failure.usage
    else:
        written = Written(result.value, LLM_PROVIDER, result.model)
        usage = result.usage
    if usage.calls:
        written.input_tokens = usage.input_tokens
        written.output_tokens = usage.output_tokens
        written.cost_usd = usage.cost_usd
    written.model_ms = usage.model_ms
    written.calls = usage.calls
    return written


def content_of(plan: ReportPlan, written: Written, collection: Collection, key: str,
               now: dt.datetime) -> SavedContent:
    """What `save_report` stores: the validated sections, their renderings, citations, coverage."""
    facts = collection.facts
    # Every writer's output (model, local writer, a reused report) passes the same validation.
    sections = filter_citations(written.sections, allowed_urls(facts))
    citations = report_citations(sections)
    coverage = measure_coverage(facts, citations)
    markdown = render_markdown(sections)
    partial = now < plan.window.end
    return SavedContent(
        sections=sections, markdown=markdown, html=render_html(markdown, citations),
        citations=citations,
        repos=sorted({fact.repo for fact in facts}), provider=written.provider,
        model=written.model, cache_key=key,
        coverage_score=coverage.score if facts else None,
        coverage_breakdown=coverage.breakdown, cited_event_ids=coverage.cited_event_ids,
        facts=facts, event_count=collection.event_count, citation_count=len(citations),
        expected_citations=sum(1 for fact in facts if fact.source_url),
        is_partial=partial, input_tokens=written.input_tokens,
        output_tokens=written.output_tokens, cost_usd=written.cost_usd,
        title=report_title(plan.kind, plan.window.start, plan.window.end, plan.zone_key,
                           standard=plan.standard),
        description=report_description(
            plan.kind, who=plan.scope.who, team=plan.scope.is_team, query=plan.scope.query,
            partial_at=now if partial else None, zone=plan.zone_key),
    )


def reused_content(plan: ReportPlan, report: Report, collection: Collection, key: str,
                   now: dt.datetime) -> SavedContent:
    """A partial report whose day has ended, with unchanged facts: the same content, final now."""
    sections = [Section.from_json(item) for item in report.sections]
    written = Written(sections, report.provider, report.model, report.input_tokens,
                      report.output_tokens, report.cost_usd)
    return content_of(plan, written, collection, key, now)
