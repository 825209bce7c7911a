"""The work the demo team draws from: pull requests (`Change`) and issues (`IssueTopic`) per repository.

Fixed data, like the rest of `catalog`; `catalog.REPOS` ties each tuple to its repository.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """A pull request the team might open: its title, why, which files and which commits."""

    title: str
    summary: str
    files: tuple[str, ...]
    commits: tuple[str, ...]
    label: str = "enhancement"


@dataclass(frozen=True)
class IssueTopic:
    """An issue the team might file."""

    title: str
    body: str
    label: str = "bug"


WEB_CHANGES = (
    Change("Add saved searches to the search bar",
           "People can pin a search and get back to it from the dropdown. Saved searches live in "
           "localStorage for now; syncing them through the API is tracked separately.",
           ("src/components/SearchBar.tsx", "src/hooks/useSavedSearches.ts",
            "src/components/SearchBar.test.tsx"),
           ("Add useSavedSearches hook", "Show saved searches in the search dropdown",
            "Cover saved searches with tests")),
    Change("Fix double submit on the checkout page",
           "Clicking Pay twice in quick succession created two payment intents. The button is now "
           "disabled while the request is in flight and the handler ignores re-entry.",
           ("src/app/checkout/page.tsx", "src/app/checkout/usePayment.ts"),
           ("Disable the pay button while submitting",
            "Guard the payment handler against re-entry"),
           "bug"),
    Change("Migrate account settings to the new form components",
           "Moves the profile, password and notification forms onto `<Form>` and `<Field>` so "
           "validation messages and spacing match the rest of the app.",
           ("src/app/settings/account/page.tsx", "src/components/forms/Field.tsx",
            "src/app/settings/account/schema.ts"),
           ("Move the profile form to Form/Field", "Move the password form to Form/Field",
            "Share the zod schema between client and server")),
    Change("Add a dark mode toggle to the navigation header",
           "Adds a light/dark/system toggle next to the avatar menu. The choice is stored per "
           "browser and applied before first paint to avoid a flash of the wrong theme.",
           ("src/components/NavHeader.tsx", "src/theme/ThemeScript.tsx", "src/theme/useTheme.ts"),
           ("Add ThemeScript to set the theme before hydration",
            "Add the theme toggle to the header")),
    Change("Lazy-load the billing dashboard charts",
           "The chart library was in the main bundle for every page. Loading it on demand cuts "
           "about 180 kB (gzip) from the first load of the dashboard.",
           ("src/app/billing/page.tsx", "src/components/charts/UsageChart.tsx"),
           ("Load UsageChart with next/dynamic", "Add a skeleton while charts load")),
    Change("Show the unread count in the notifications panel",
           "Adds a badge with the unread count and marks notifications read when the panel opens.",
           ("src/components/NotificationsPanel.tsx", "src/api/notifications.ts"),
           ("Add the unread badge", "Mark notifications read on open")),
    Change("Fix date picker off-by-one in negative UTC offsets",
           "Dates were built with `new Date(y, m, d)` and then serialised as UTC, so people west "
           "of Greenwich saw the previous day. Dates are now kept as plain calendar dates.",
           ("src/components/DatePicker.tsx", "src/lib/dates.ts", "src/lib/dates.test.ts"),
           ("Keep picker values as calendar dates", "Add regression tests for UTC-5 and UTC-8"),
           "bug"),
    Change("Add the team invites modal",
           "Workspace admins can invite several people at once by email, pick a role and resend "
           "pending invites from the same modal.",
           ("src/components/InviteModal.tsx", "src/app/team/page.tsx", "src/api/invites.ts"),
           ("Add InviteModal with multi-email input", "Wire invites to the API",
            "Allow resending pending invites")),
    Change("Replace moment with date-fns",
           "moment was only used for formatting and relative times. date-fns is tree-shakeable and "
           "saves about 60 kB.",
           ("package.json", "src/lib/dates.ts", "src/components/RelativeTime.tsx"),
           ("Swap moment for date-fns in lib/dates", "Remove moment from package.json"), "chore"),
    Change("Add an error boundary around dashboard widgets",
           "A failing widget used to blank the whole dashboard. Each widget now fails on its own "
           "with a retry button, and the error is reported to Sentry.",
           ("src/components/WidgetBoundary.tsx", "src/app/dashboard/page.tsx"),
           ("Add WidgetBoundary", "Wrap dashboard widgets in WidgetBoundary")),
    Change("Track onboarding funnel events",
           "Sends `onboarding_step_viewed` and `onboarding_completed` so product can see where "
           "people drop off.",
           ("src/app/onboarding/page.tsx", "src/lib/analytics.ts"),
           ("Add onboarding analytics events", "Debounce duplicate step views")),
    Change("Paginate the invoices table",
           "Workspaces with years of invoices rendered thousands of rows. The table now pages "
           "through the API's cursor pagination, 50 rows at a time.",
           ("src/app/billing/invoices/InvoicesTable.tsx", "src/api/invoices.ts"),
           ("Use cursor pagination for invoices", "Add next/previous controls")),
    Change("Fix the focus trap in the command palette",
           "Tab moved focus behind the palette. Focus now stays inside and returns to the trigger "
           "when it closes.",
           ("src/components/CommandPalette.tsx",),
           ("Trap focus inside the command palette", "Restore focus on close"), "bug"),
    Change("Redesign the pricing page hero",
           "New headline, plan comparison above the fold and annual/monthly switch, per the Q3 "
           "marketing brief.",
           ("src/app/pricing/page.tsx", "src/app/pricing/PlanCards.tsx"),
           ("Rebuild the pricing hero", "Add the annual/monthly switch")),
    Change("Add a keyboard shortcuts help dialog",
           "Pressing `?` opens a dialog listing every shortcut, generated from the same table the "
           "handlers use.",
           ("src/components/ShortcutsDialog.tsx", "src/lib/shortcuts.ts"),
           ("Move shortcuts into one table", "Add the shortcuts dialog")),
    Change("Cache project lists with SWR",
           "The projects list refetched on every navigation. SWR keeps the last result and "
           "revalidates in the background.",
           ("src/app/projects/page.tsx", "src/api/projects.ts"),
           ("Fetch projects through SWR", "Invalidate the cache after creating a project")),
    Change("Fix layout shift on the landing page",
           "Hero images had no dimensions, which cost us a CLS of 0.21. Images now reserve their "
           "space and the web font uses `size-adjust`.",
           ("src/app/page.tsx", "src/styles/fonts.css"),
           ("Give hero images explicit sizes", "Use size-adjust for the fallback font"), "bug"),
    Change("Upgrade to Next.js 14.2",
           "Routine upgrade; fixes the dev-server memory leak and lets us drop two workarounds.",
           ("package.json", "next.config.js", "src/middleware.ts"),
           ("Bump next to 14.2", "Remove the middleware matcher workaround"), "chore"),
    Change("Add CSV export to the reports table",
           "Exports the rows currently filtered, with the same columns as the table.",
           ("src/app/reports/ReportsTable.tsx", "src/lib/csv.ts", "src/lib/csv.test.ts"),
           ("Add a CSV serializer", "Add the export button to the reports table")),
    Change("Improve empty states across the dashboard",
           "Every empty widget now says what will appear there and links to the action that fills "
           "it.",
           ("src/components/EmptyState.tsx", "src/app/dashboard/page.tsx"),
           ("Add an EmptyState component", "Use EmptyState in dashboard widgets")),
    Change("Fix the password reset link for SSO users",
           "SSO users were sent a reset link that could never work. They now get an explanation "
           "and a link to their identity provider.",
           ("src/app/reset-password/page.tsx", "src/api/auth.ts"),
           ("Detect SSO accounts on reset", "Explain SSO password resets"), "bug"),
    Change("Add a Playwright smoke test for sign-up",
           "Runs the whole sign-up flow against the preview deployment on every PR.",
           ("e2e/signup.spec.ts", ".github/workflows/e2e.yml"),
           ("Add the sign-up smoke test", "Run e2e tests on preview deployments"), "chore"),
    Change("Localize the checkout flow into German and French",
           "Extracts every checkout string and adds de and fr translations reviewed by the "
           "support team.",
           ("src/app/checkout/page.tsx", "locales/de/checkout.json", "locales/fr/checkout.json"),
           ("Extract checkout strings", "Add German and French checkout translations")),
    Change("Extract design tokens into a shared theme file",
           "Colours, radii and spacing move into `theme/tokens.ts` so web and email templates use "
           "the same values.",
           ("src/theme/tokens.ts", "src/styles/globals.css"),
           ("Add theme tokens", "Replace hard-coded colours with tokens"), "chore"),
)

API_CHANGES = (
    Change("Add a sliding-window rate limiter to public endpoints",
           "Replaces the fixed-window limiter, which let clients burst twice the limit at window "
           "boundaries. Limits are per API key and stored in Redis.",
           ("api/middleware/ratelimit.py", "api/settings.py", "tests/test_ratelimit.py"),
           ("Add a sliding-window limiter backed by Redis", "Return Retry-After on 429",
            "Test the limiter at window boundaries")),
    Change("Fix an N+1 query in the projects list endpoint",
           "`GET /v2/projects` issued one query per project for its members. Members are now "
           "loaded with `selectinload`; p95 dropped from 840 ms to 95 ms on the largest workspace.",
           ("api/routes/projects.py", "api/repositories/projects.py"),
           ("Load project members with selectinload", "Add a query-count test for /v2/projects"),
           "bug"),
    Change("Retry failed webhook deliveries with exponential backoff",
           "Deliveries that fail with a 5xx or a timeout are retried after 1, 5 and 30 minutes; "
           "4xx responses are not retried.",
           ("api/webhooks/delivery.py", "api/webhooks/models.py", "tests/test_webhook_delivery.py"),
           ("Add retry scheduling to webhook deliveries", "Stop retrying on 4xx responses")),
    Change("Add idempotency keys to POST /payments",
           "Clients can send `Idempotency-Key`; a repeated request within 24 h returns the stored "
           "response instead of charging twice.",
           ("api/routes/payments.py", "api/idempotency.py", "migrations/0042_idempotency_keys.py"),
           ("Store responses by idempotency key", "Reject a reused key with a different body")),
    Change("Paginate /v2/invoices with cursors",
           "Offset pagination skipped rows when invoices were created mid-scan. Cursors are "
           "opaque, signed and based on `(created_at, id)`.",
           ("api/routes/invoices.py", "api/pagination.py"),
           ("Add signed cursor pagination helpers", "Use cursors in /v2/invoices")),
    Change("Move email sending to a background worker",
           "Request handlers no longer wait on SMTP. Emails go through the job queue with three "
           "retries.",
           ("api/email/sender.py", "api/jobs/email.py", "api/routes/invites.py"),
           ("Add the email job", "Send invite emails through the queue")),
    Change("Add an audit log for admin actions",
           "Role changes, member removals and billing changes are written to `audit_events` with "
           "the actor, target and request id.",
           ("api/audit.py", "migrations/0043_audit_events.py", "api/routes/members.py"),
           ("Add the audit_events table", "Record admin actions in the audit log")),
    Change("Fix timezone handling in usage reports",
           "Daily buckets were computed in server time. They now follow the workspace's timezone.",
           ("api/reports/usage.py", "tests/test_usage_reports.py"),
           ("Bucket usage by workspace timezone", "Add DST boundary tests"), "bug"),
    Change("Add an OpenAPI schema for the search endpoint",
           "Documents query parameters, filters and the response envelope so the SDK generator "
           "picks it up.",
           ("api/routes/search.py", "api/schemas/search.py"),
           ("Describe search parameters with pydantic models",), "documentation"),
    Change("Cache plan lookups in Redis",
           "Every request looked up the workspace plan. Plans are now cached for five minutes and "
           "invalidated on upgrade.",
           ("api/billing/plans.py", "api/cache.py"),
           ("Cache plan lookups", "Invalidate the plan cache on subscription change")),
    Change("Add readiness checks for the database and queue",
           "`/healthz/ready` checks the database and Redis so the load balancer stops sending "
           "traffic to a pod that lost either.",
           ("api/routes/health.py", "deploy/k8s/api.yaml"),
           ("Add /healthz/ready", "Point the readiness probe at /healthz/ready"), "chore"),
    Change("Rotate session tokens on password change",
           "Changing a password now ends every other session of the account.",
           ("api/auth/sessions.py", "api/routes/account.py"),
           ("Revoke other sessions on password change", "Test session rotation"), "security"),
    Change("Add a bulk export job for workspace data",
           "Admins can request a ZIP of all projects, members and invoices; the job streams to "
           "object storage and emails a signed link.",
           ("api/jobs/export.py", "api/routes/exports.py", "api/storage.py"),
           ("Add the export job", "Stream exports to object storage", "Email the download link")),
    Change("Fix a race condition in seat counting",
           "Two simultaneous invites could both pass the seat check. The check and the insert now "
           "run under a row lock on the subscription.",
           ("api/billing/seats.py", "tests/test_seats.py"),
           ("Lock the subscription row while counting seats", "Add a concurrent invite test"),
           "bug"),
    Change("Drop the legacy v1 auth middleware",
           "No client has used v1 tokens for 90 days (checked in the access logs).",
           ("api/middleware/auth_v1.py", "api/app.py"),
           ("Remove auth_v1 middleware",), "chore"),
    Change("Add structured logging with request ids",
           "Every log line is JSON with `request_id`, `workspace_id` and `route`, and the id is "
           "returned in `X-Request-Id`.",
           ("api/logging.py", "api/middleware/request_id.py"),
           ("Log JSON with request context", "Return X-Request-Id")),
    Change("Index events by workspace and created_at",
           "The activity feed query did a sequential scan on 40M rows. The new index makes it an "
           "index-only scan.",
           ("migrations/0044_events_workspace_created_at.py",),
           ("Add a concurrent index on events(workspace_id, created_at)",), "performance"),
    Change("Validate webhook URLs before saving",
           "Rejects private IP ranges and non-https URLs to prevent SSRF through webhook "
           "endpoints.",
           ("api/webhooks/validation.py", "api/routes/webhooks.py"),
           ("Reject private and non-https webhook URLs", "Resolve hostnames before saving"),
           "security"),
    Change("Upgrade to Python 3.12",
           "Base image, CI and type-checker targets move to 3.12; two deprecated `datetime.utcnow` "
           "calls are replaced.",
           ("Dockerfile", ".github/workflows/ci.yml", "pyproject.toml"),
           ("Bump the base image to python:3.12-slim", "Replace datetime.utcnow"), "chore"),
    Change("Add soft delete for projects",
           "Deleted projects stay restorable for 30 days; a nightly job purges them afterwards.",
           ("api/models/project.py", "api/jobs/purge.py", "migrations/0045_projects_deleted_at.py"),
           ("Add projects.deleted_at", "Hide deleted projects from queries",
            "Purge after 30 days")),
    Change("Return 409 on duplicate invite emails",
           "Inviting someone who already has a pending invite returned a 500 from the unique "
           "constraint. It is now a 409 with a clear message.",
           ("api/routes/invites.py", "tests/test_invites.py"),
           ("Map duplicate invites to 409",), "bug"),
    Change("Add metrics for queue latency",
           "Exports `job_queue_latency_seconds` per queue so we can alert when email or export "
           "jobs back up.",
           ("api/jobs/metrics.py", "deploy/grafana/queues.json"),
           ("Record queue latency per job", "Add the queues dashboard"), "chore"),
)

MOBILE_CHANGES = (
    Change("Add an offline queue for draft comments",
           "Comments written without a connection are stored and sent when the device is back "
           "online, in order.",
           ("shared/src/commonMain/kotlin/sync/OfflineQueue.kt",
            "shared/src/commonMain/kotlin/comments/CommentRepository.kt"),
           ("Add OfflineQueue", "Queue comments while offline", "Flush the queue on reconnect")),
    Change("Fix a crash when opening a deep link while logged out",
           "The deep-link handler assumed a session. Logged-out users now sign in first and land "
           "on the linked screen afterwards.",
           ("androidApp/src/main/kotlin/DeepLinkHandler.kt", "iosApp/iosApp/DeepLinks.swift"),
           ("Defer deep links until sign-in", "Add a test for logged-out deep links"), "bug"),
    Change("Support biometric login on Android",
           "Uses BiometricPrompt to unlock the stored refresh token; falls back to the password "
           "screen.",
           ("androidApp/src/main/kotlin/auth/BiometricLogin.kt",
            "androidApp/src/main/kotlin/auth/TokenStore.kt"),
           ("Add BiometricLogin", "Encrypt the refresh token with a biometric-bound key")),
    Change("Cut cold start time by deferring analytics init",
           "Analytics and remote config now initialise after the first frame; cold start on a "
           "Pixel 6a went from 1.9 s to 1.2 s.",
           ("androidApp/src/main/kotlin/App.kt",
            "shared/src/commonMain/kotlin/analytics/Analytics.kt"),
           ("Initialise analytics after first frame", "Measure startup with Macrobenchmark"),
           "performance"),
    Change("Add a push notification preferences screen",
           "People can choose which notifications they get per project instead of all or nothing.",
           ("androidApp/src/main/kotlin/settings/NotificationPrefsScreen.kt",
            "shared/src/commonMain/kotlin/settings/NotificationPrefs.kt"),
           ("Add notification preference models", "Add the preferences screen")),
    Change("Compress images before upload",
           "Photos are resized to 2048 px and re-encoded, which cut upload sizes by about 80%.",
           ("shared/src/commonMain/kotlin/media/ImageCompressor.kt",
            "shared/src/commonMain/kotlin/media/UploadService.kt"),
           ("Add ImageCompressor", "Compress photos before upload")),
    Change("Fix dark theme colours on the settings screen",
           "Section headers used a hard-coded grey that disappeared on dark backgrounds.",
           ("androidApp/src/main/kotlin/settings/SettingsScreen.kt",
            "androidApp/src/main/kotlin/theme/Color.kt"),
           ("Use theme colours for settings headers",), "bug"),
    Change("Add pull-to-refresh on the home feed",
           "Refreshes the feed and shows the time of the last successful refresh.",
           ("androidApp/src/main/kotlin/feed/FeedScreen.kt",
            "shared/src/commonMain/kotlin/feed/FeedViewModel.kt"),
           ("Add pull-to-refresh to the feed", "Show the last refresh time")),
    Change("Migrate networking to Ktor 2.3",
           "Moves the shared HTTP client to Ktor 2.3 and content negotiation to "
           "kotlinx.serialization.",
           ("shared/build.gradle.kts", "shared/src/commonMain/kotlin/network/HttpClient.kt"),
           ("Bump Ktor to 2.3", "Use kotlinx.serialization for content negotiation"), "chore"),
    Change("Add accessibility labels to the tab bar",
           "TalkBack and VoiceOver read icon names instead of the screen name.",
           ("androidApp/src/main/kotlin/navigation/TabBar.kt", "iosApp/iosApp/TabBar.swift"),
           ("Label tab bar items for screen readers",), "accessibility"),
    Change("Handle expired sessions with a re-login prompt",
           "A 401 on refresh now shows a prompt instead of logging people out mid-task; drafts are "
           "kept.",
           ("shared/src/commonMain/kotlin/auth/SessionManager.kt",
            "androidApp/src/main/kotlin/auth/ReloginDialog.kt"),
           ("Detect refresh failures", "Show the re-login prompt", "Keep drafts across re-login")),
    Change("Fix duplicate items in the feed after pagination",
           "Items that moved between pages were shown twice. Pages are now merged by id.",
           ("shared/src/commonMain/kotlin/feed/FeedPager.kt",
            "shared/src/commonTest/kotlin/feed/FeedPagerTest.kt"),
           ("Merge feed pages by id", "Test pagination with shifting items"), "bug"),
    Change("Add an in-app review prompt after the third project",
           "Asks for a store review once, after someone creates their third project.",
           ("androidApp/src/main/kotlin/review/ReviewPrompt.kt",
            "iosApp/iosApp/ReviewPrompt.swift"),
           ("Add the review prompt",)),
    Change("Upgrade the Compose BOM and fix deprecations",
           "Moves to the latest stable Compose BOM and replaces deprecated `swipeable` usages.",
           ("androidApp/build.gradle.kts", "androidApp/src/main/kotlin/feed/SwipeToArchive.kt"),
           ("Bump the Compose BOM", "Replace swipeable with anchoredDraggable"), "chore"),
    Change("Cache avatars on disk",
           "Avatars were fetched on every launch. They are now cached for 7 days.",
           ("shared/src/commonMain/kotlin/media/AvatarCache.kt",),
           ("Add a disk cache for avatars",), "performance"),
    Change("Report non-fatal errors to crash reporting",
           "Network and parsing errors we recover from are reported as non-fatals so we can see "
           "how often they happen.",
           ("shared/src/commonMain/kotlin/telemetry/NonFatal.kt",
            "shared/src/commonMain/kotlin/network/HttpClient.kt"),
           ("Add NonFatal reporter", "Report recovered network errors")),
)

WEB_ISSUES = (
    IssueTopic("Search results flicker while typing",
               "Every keystroke clears the list before the new results arrive. Steps: type "
               "`billing` quickly in the search bar on the dashboard."),
    IssueTopic("Checkout shows the wrong currency for EU accounts",
               "Accounts with a billing address in Germany see prices in USD on the checkout page, "
               "while the pricing page shows EUR."),
    IssueTopic("Charts are unreadable in dark mode",
               "Axis labels and grid lines keep their light-theme colours, see the usage chart on "
               "/billing."),
    IssueTopic("Invoices table is slow with 500+ rows",
               "Scrolling the invoices table of the Globex workspace takes several seconds per "
               "frame on a MacBook Air."),
    IssueTopic("Support SSO sign-in from the invite link",
               "Invited people in SSO workspaces land on the password form and get stuck.",
               "enhancement"),
    IssueTopic("Broken layout on iPad portrait",
               "The sidebar overlaps the content between 768 and 900 px wide."),
    IssueTopic("Add keyboard navigation to the command palette",
               "Arrow keys should move through results and Enter should open the selected one.",
               "enhancement"),
)

API_ISSUES = (
    IssueTopic("500 on /v2/invoices when the cursor is malformed",
               "`GET /v2/invoices?cursor=abc` returns a 500 instead of a 400. Stack trace in "
               "Sentry under API-3F2."),
    IssueTopic("Rate limit headers missing on 429 responses",
               "Clients cannot back off correctly because `Retry-After` and `X-RateLimit-Reset` "
               "are only sent on 2xx responses."),
    IssueTopic("Usage report totals are off by one day",
               "The usage CSV for October ends on Oct 30 for workspaces west of UTC."),
    IssueTopic("Webhook retries hammer endpoints that return 410",
               "A 410 Gone should disable the endpoint instead of being retried."),
    IssueTopic("Export job times out for large workspaces",
               "Exports of workspaces with more than 20k projects hit the 15-minute job timeout."),
    IssueTopic("Document the idempotency key behaviour",
               "The API reference does not say how long keys are kept or what happens on a body "
               "mismatch.", "documentation"),
)

MOBILE_ISSUES = (
    IssueTopic("Crash when opening a notification for a deleted project",
               "Tapping a push notification for a project that was deleted since crashes the app "
               "(NullPointerException in ProjectScreen)."),
    IssueTopic("Login loop after token expiry",
               "After a week offline the app shows the login screen, accepts the password and "
               "shows the login screen again."),
    IssueTopic("Photos upload rotated on some Samsung devices",
               "EXIF orientation is ignored when compressing, reported on Galaxy S21 and A52."),
    IssueTopic("Add haptic feedback to pull-to-refresh",
               "A light tick when the refresh threshold is reached, like the iOS app.",
               "enhancement"),
    IssueTopic("Settings text is cut off with large fonts",
               "With the largest system font, section titles on the settings screen are "
               "truncated."),
)
