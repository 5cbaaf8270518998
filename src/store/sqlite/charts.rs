//! The charts' SQLite statements: days and minutes are prefixes of the stored RFC 3339 text.

/// Binds: list, since.
pub const GROWTH: &str = "SELECT day, SUM(confirmed) AS confirmed, SUM(unsubscribed) AS unsubscribed, SUM(bounced) AS bounced FROM (
         SELECT substr(confirmed_at, 1, 10) AS day, COUNT(*) AS confirmed, 0 AS unsubscribed, 0 AS bounced
         FROM subscriptions WHERE list_id = $1 AND confirmed_at >= $2 GROUP BY 1
       UNION ALL
         SELECT substr(unsubscribed_at, 1, 10), 0, COUNT(*), 0
         FROM subscriptions WHERE list_id = $1 AND unsubscribed_at >= $2 GROUP BY 1
       UNION ALL
         SELECT substr(e.at, 1, 10), 0, 0, COUNT(DISTINCT e.subscriber_id)
         FROM events e JOIN subscriptions s ON s.list_id = $1 AND s.subscriber_id = e.subscriber_id
         WHERE e.type = 'bounce.recorded' AND e.at >= $2
           AND json_extract(e.detail, '$.decision') IN ('marked_bounced', 'complained')
         GROUP BY 1
     ) AS t GROUP BY day";

/// Binds: issue. The sent messages are read from the partial index `deliveries_sent_at` (the
/// `sent_at >= ''` range is what makes the planner take it); the few refused ones from rows.
pub const CURVE: &str = "SELECT minute, SUM(sent) AS sent, SUM(failed) AS failed FROM (
        SELECT substr(sent_at, 1, 16) AS minute, 1 AS sent, 0 AS failed FROM deliveries
         WHERE issue_id = $1 AND state = 'sent' AND sent_at >= ''
        UNION ALL
        SELECT substr(COALESCE(sent_at, updated_at), 1, 16), CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END, CASE WHEN sent_at IS NULL THEN 1 ELSE 0 END
          FROM deliveries WHERE issue_id = $1 AND state IN ('bounced', 'failed')
     ) AS d GROUP BY minute ORDER BY minute";
