-- True first-contact resolution in plain SQL, for customers known by one
-- key and same-topic matching: the reference the projection is held
-- against. It reads one row per issue:
--
--   issues(issue_id, customer_key, topic, opened_at, first_resolved_at,
--          closed_at, first_contact_at, second_contact_at)
--
-- topic is the topic the issue opened with (the benchmark's simple log
-- has no issue.classified);
-- first_resolved_at its first resolution (null: never resolved); closed_at
-- the resolution that ended its last open period (null: open at the
-- watermark); first_contact_at and second_contact_at its two earliest
-- counted contacts: answered inbound contacts (the opening one,
-- follow-ups, reopens), abandoned attempts left out. Two are enough: a
-- verdict only asks whether a problem had none, exactly one or more.
--
-- Parameters: $1 the watermark (the latest event time of the log),
-- $2 the repeat window W in seconds.
WITH params AS (
    SELECT $1::timestamptz AS watermark, make_interval(secs => $2::float8) AS w
),
live AS (
    -- An issue is live for inference from its opening until W after it
    -- was last resolved, and for ever while it is open.
    SELECT i.*,
           CASE WHEN i.closed_at IS NULL THEN 'infinity'::timestamptz
                ELSE i.closed_at + p.w END AS live_until
    FROM issues i CROSS JOIN params p
),
starts AS (
    -- An issue starts a new problem unless an earlier issue of the same
    -- customer and topic is still live when it opens; else it chains to
    -- the problem of the issues before it.
    SELECT l.*,
           coalesce(l.opened_at >= max(l.live_until) OVER earlier, true) AS starts_problem
    FROM live l
    WINDOW earlier AS (PARTITION BY l.customer_key, l.topic ORDER BY l.opened_at, l.issue_id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
chained AS (
    SELECT s.*,
           count(*) FILTER (WHERE s.starts_problem) OVER (
               PARTITION BY s.customer_key, s.topic ORDER BY s.opened_at, s.issue_id
               ROWS UNBOUNDED PRECEDING) AS problem_no
    FROM starts s
),
members AS (
    -- A problem is resolved at the earliest first resolution of its issues.
    SELECT c.*,
           min(c.first_resolved_at) OVER (PARTITION BY c.customer_key, c.topic, c.problem_no) AS resolved_at
    FROM chained c
),
verdicts AS (
    -- Final problems only: resolved, and the watermark past resolution + W.
    -- before: counted contacts up to the resolution; after: within W after it.
    SELECT m.customer_key, m.topic, m.problem_no,
           count(*) FILTER (WHERE x.at <= m.resolved_at) AS before,
           count(*) FILTER (WHERE x.at > m.resolved_at AND x.at < m.resolved_at + p.w) AS after
    FROM members m
    CROSS JOIN params p
    LEFT JOIN LATERAL (VALUES (m.first_contact_at), (m.second_contact_at)) AS x(at) ON true
    WHERE m.resolved_at + p.w < p.watermark
    GROUP BY m.customer_key, m.topic, m.problem_no
)
-- Achieved: exactly one counted contact up to the resolution and none
-- within W after it. Failed: any other problem with a counted contact,
-- which includes one whose only counted contacts came after its
-- resolution (resolved with none, say closed on an abandoned call, and
-- the customer came back): the resolution did not hold, as the
-- projection counts it (projections.FCR). A problem with no counted
-- contact at all is in neither.
SELECT count(*) FILTER (WHERE before = 1 AND after = 0) AS achieved,
       count(*) FILTER (WHERE before + after > 0 AND NOT (before = 1 AND after = 0)) AS failed
FROM verdicts;
