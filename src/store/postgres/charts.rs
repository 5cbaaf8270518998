//! The charts' PostgreSQL statements: days and minutes cut from `timestamptz` in UTC, sums cast
//! back to `bigint` (PostgreSQL sums `bigint` into `numeric`).

pub const GROWTH: &str = "SELECT day, CAST(SUM(confirmed) AS bigint) AS confirmed, CAST(SUM(unsubscribed) AS bigint) AS unsubscribed, CAST(SUM(bounced) AS bigint) AS bounced FROM (
         SELECT to_char(confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*) AS confirmed, 0 AS unsubscribed, 0 AS bounced
         FROM subscriptions WHERE list_id = $1 AND confirmed_at >= $2 GROUP BY 1
       UNION ALL
         SELECT to_char(unsubscribed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 0, COUNT(*), 0
         FROM subscriptions WHERE list_id = $1 AND unsubscribed_at >= $2 GROUP BY 1
       UNION ALL
         SELECT to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 0, 0, COUNT(DISTINCT e.subscriber_id)
         FROM events e JOIN subscriptions s ON s.list_id = $1 AND s.subscriber_id = e.subscriber_id
         WHERE e.type = 'bounce.recorded' AND e.at >= $2
           AND e.detail->>'decision' IN ('marked_bounced', 'complained')
         GROUP BY 1
     ) AS t GROUP BY day";

pub const CURVE: &str = "SELECT minute, CAST(SUM(sent) AS bigint) AS sent, CAST(SUM(failed) AS bigint) AS failed FROM (
        SELECT to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI') AS minute, 1 AS sent, 0 AS failed FROM deliveries
         WHERE issue_id = $1 AND state = 'sent' AND sent_at IS NOT NULL
        UNION ALL
        SELECT to_char(COALESCE(sent_at, updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI'),
               CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END, CASE WHEN sent_at IS NULL THEN 1 ELSE 0 END
          FROM deliveries WHERE issue_id = $1 AND state IN ('bounced', 'failed')
     ) AS d GROUP BY minute ORDER BY minute";
