//! The numbers behind the dashboard's charts: growth of a list, the pace of a send, bounce and
//! complaint counts per issue, and which receiving domains block us.
//!
//! Days and minutes are UTC (each backend cuts them from its own kind of time). Each query reads
//! one index range, so a list of a million people costs what the chart shows, not what the list
//! holds.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use super::conn::q;
use super::{Result, Store};

/// One day of a list's growth; bounced counts people of the list whose address was given up
/// (hard bounces, repeated soft bounces, complaints) that day. A complaint also unsubscribes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct GrowthDay {
    /// YYYY-MM-DD
    pub day: String,
    pub confirmed: i64,
    pub unsubscribed: i64,
    pub bounced: i64,
}

/// One minute of a send: messages accepted by the relay, and messages given up on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct CurveMinute {
    /// YYYY-MM-DDTHH:MM
    pub minute: String,
    pub sent: i64,
    pub failed: i64,
}

/// One issue's send, in recipients. `bounced` and `complaints` are parts of `sent`, so each
/// divided by `sent` is a rate of at most 100%.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct SendRate {
    /// The issue's slug.
    pub issue: String,
    /// Deliveries tried to the end: accepted, bounced, or given up.
    pub sent: i64,
    pub bounced: i64,
    pub complaints: i64,
}

/// The longest span a chart asks for; more is a mistake, not a wish for ten years of days.
const MAX_DAYS: i64 = 3660;

impl Store {
    /// Per day, oldest first, for the last `days` days including today: every day is present,
    /// with zeros where nothing happened.
    pub async fn subscriber_growth(&self, list_id: i64, days: i64) -> Result<Vec<GrowthDay>> {
        let days = days.clamp(1, MAX_DAYS);
        let first = Utc::now().date_naive() - Duration::days(days - 1);
        let since: DateTime<Utc> = first.and_time(NaiveTime::MIN).and_utc();
        // Each branch reads one index range and is counted apart; only the few daily rows meet.
        // A second complaint from one person logs a second event: people are counted, not events.
        let rows: Vec<GrowthDay> = q!(all, &mut self.read().await?, [charts::GROWTH], list_id, since)?;
        Ok(every_day(first, days, rows))
    }

    /// Per minute, oldest first; minutes in which nothing was sent or given up are left out.
    /// A message that bounced later counts as sent when the relay took it.
    pub async fn delivery_curve(&self, issue_id: i64) -> Result<Vec<CurveMinute>> {
        if let Some(summary) = self.issue_summary(issue_id).await? {
            return Ok(summary.curve);
        }
        // sent_at is set only when the relay accepts; a refused or given-up message keeps it
        // NULL and was given up at its last update.
        Ok(q!(all, &mut self.read().await?, [charts::CURVE], issue_id)?)
    }

    /// The `limit` latest issues (by publication date) that were sent to anyone, newest first.
    /// Bounced and complaints count people, not reports: two reports of one bounce count once.
    pub async fn send_rates(&self, limit: i64) -> Result<Vec<SendRate>> {
        // Only id, slug and published_on are read from issues: they sit before the rendered
        // bodies in the row, so no overflow page is walked.
        // A summarised issue's count is its summary's; the bounce log is never pruned.
        Ok(q!(all, &mut self.read().await?, "SELECT i.slug AS issue,
                    COALESCE((SELECT s.sent + s.bounced + s.failed FROM issue_summaries s WHERE s.issue_id = i.id),
                             (SELECT COUNT(*) FROM deliveries d WHERE d.issue_id = i.id AND d.state IN ('sent', 'bounced', 'failed'))) AS sent,
                    (SELECT COUNT(DISTINCT b.subscriber_id) FROM bounces b WHERE b.issue_id = i.id AND b.kind IN ('hard', 'soft')
                        AND (b.action IS NULL OR b.action <> 'delayed')) AS bounced,
                    (SELECT COUNT(DISTINCT b.subscriber_id) FROM bounces b WHERE b.issue_id = i.id AND b.kind = 'complaint') AS complaints
             FROM issues i WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.issue_id = i.id) OR EXISTS (SELECT 1 FROM issue_summaries s WHERE s.issue_id = i.id)
             ORDER BY i.published_on DESC, i.id DESC LIMIT $1", limit)?)
    }

    /// Blocks ("blocked" bounces) in the last `days` days per receiving domain, most first.
    pub async fn blocked_by_domain(&self, days: i64, limit: i64) -> Result<Vec<(String, i64)>> {
        let since = Utc::now() - Duration::days(days.clamp(1, MAX_DAYS));
        Ok(q!(all, &mut self.read().await?, "SELECT receiving_domain, COUNT(*) AS n FROM bounces
             WHERE reason = 'blocked' AND received_at >= $1 AND receiving_domain IS NOT NULL
             GROUP BY receiving_domain ORDER BY n DESC, receiving_domain LIMIT $2", since, limit)?)
    }
}

/// `days` rows from `first` on, taking counted days from `rows` and zeros for the rest.
fn every_day(first: NaiveDate, days: i64, rows: Vec<GrowthDay>) -> Vec<GrowthDay> {
    let mut counted: HashMap<String, GrowthDay> = rows.into_iter().map(|r| (r.day.clone(), r)).collect();
    (0..days)
        .map(|i| {
            let day = (first + Duration::days(i)).format("%Y-%m-%d").to_string();
            counted.remove(&day).unwrap_or(GrowthDay { day, confirmed: 0, unsubscribed: 0, bounced: 0 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()), 2).await.expect("open");
        (store, dir)
    }

    async fn exec(store: &Store, sql: &str) {
        store.execute_script(sql).await.expect(sql);
    }

    /// The stored form of a time `days_ago` days before now, at `hhmm`.
    fn at(days_ago: i64, hhmm: &str) -> String {
        format!("{}T{hhmm}:07.123456+00:00", Utc::now().date_naive() - Duration::days(days_ago))
    }

    async fn people(store: &Store) {
        let t = at(400, "00:00");
        exec(store, &format!(
            "INSERT INTO lists (id, slug, name, language, created_at) VALUES (1, 'a', 'A', 'en', '{t}'), (2, 'b', 'B', 'en', '{t}');
             INSERT INTO subscribers (id, email, email_key, created_at, updated_at)
               SELECT value, 'p' || value || '@x.test', 'p' || value || '@x.test', '{t}', '{t}' FROM json_each('[1,2,3,4,5]');"
        ))
        .await;
    }

    #[tokio::test]
    async fn growth_counts_confirmations_leavings_and_bounces_per_day() {
        let (store, _dir) = store().await;
        people(&store).await;
        let (today, yesterday, old) = (at(0, "00:01"), at(1, "23:59"), at(40, "12:00"));
        exec(&store, &format!(
            "INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, unsubscribed_at, updated_at) VALUES
               (1, 1, 'confirmed', 'cli', '{old}', '{today}', NULL, '{today}'),
               (1, 2, 'confirmed', 'cli', '{old}', '{yesterday}', NULL, '{today}'),
               (1, 3, 'unsubscribed', 'cli', '{old}', '{old}', '{today}', '{today}'),
               (1, 4, 'confirmed', 'cli', '{old}', '{yesterday}', NULL, '{today}'),
               (2, 5, 'confirmed', 'cli', '{old}', '{today}', NULL, '{today}');
             INSERT INTO events (at, type, actor, subscriber_id, detail) VALUES
               ('{today}', 'bounce.recorded', 'bounces', 4, '{{\"decision\":\"marked_bounced\"}}'),
               ('{today}', 'bounce.recorded', 'bounces', 2, '{{\"decision\":\"logged\"}}'),
               ('{today}', 'bounce.recorded', 'bounces', 5, '{{\"decision\":\"complained\"}}');"
        ))
        .await;
        let growth = store.subscriber_growth(1, 7).await.expect("growth");
        assert_eq!(growth.len(), 7);
        let day = |d: &str, c, u, b| GrowthDay { day: d[..10].to_string(), confirmed: c, unsubscribed: u, bounced: b };
        assert_eq!(growth[6], day(&today, 1, 1, 1));
        assert_eq!(growth[5], day(&yesterday, 2, 0, 0));
        assert_eq!(growth[0], day(&at(6, "00:00"), 0, 0, 0));
    }

    #[tokio::test]
    async fn delivery_curve_counts_per_minute_of_acceptance_or_giving_up() {
        let (store, _dir) = store().await;
        people(&store).await;
        let t = at(0, "10:00");
        exec(&store, &format!(
            "INSERT INTO issues (id, list_id, slug, title, published_on, language, source_markdown, created_at, updated_at)
               VALUES (1, 1, 'one', 'One', '2025-01-01', 'en', '', '{t}', '{t}');
             INSERT INTO deliveries (issue_id, subscriber_id, state, sent_at, updated_at) VALUES
               (1, 1, 'sent', '{t}', '{t}'), (1, 2, 'bounced', '{t}', '{late}'), (1, 3, 'failed', NULL, '{late}'),
               (1, 4, 'bounced', NULL, '{t}'), (1, 5, 'queued', NULL, '{t}');",
            late = at(0, "10:03"),
        ))
        .await;
        let curve = store.delivery_curve(1).await.expect("curve");
        let minute = |m: String, sent, failed| CurveMinute { minute: m[..16].to_string(), sent, failed };
        assert_eq!(curve, [minute(t, 2, 1), minute(at(0, "10:03"), 0, 1)]);
    }

    #[tokio::test]
    async fn send_rates_and_blocks_count_people_and_domains() {
        let (store, _dir) = store().await;
        people(&store).await;
        let (t, old) = (at(0, "10:00"), at(60, "10:00"));
        exec(&store, &format!(
            "INSERT INTO issues (id, list_id, slug, title, published_on, language, source_markdown, created_at, updated_at) VALUES
               (1, 1, 'first', 'F', '2025-01-01', 'en', '', '{t}', '{t}'), (2, 1, 'second', 'S', '2025-02-01', 'en', '', '{t}', '{t}'),
               (3, 1, 'draft', 'D', '2025-03-01', 'en', '', '{t}', '{t}');
             INSERT INTO deliveries (issue_id, subscriber_id, state, sent_at, updated_at) VALUES
               (1, 1, 'sent', '{t}', '{t}'), (1, 2, 'bounced', '{t}', '{t}'), (1, 3, 'failed', NULL, '{t}'),
               (2, 1, 'sent', '{t}', '{t}');
             INSERT INTO bounces (subscriber_id, issue_id, kind, reason, source, action, receiving_domain, received_at) VALUES
               (2, 1, 'hard', 'mailbox', 'dsn', 'failed', 'x.test', '{t}'), (2, 1, 'hard', 'mailbox', 'smtp', NULL, 'x.test', '{t}'),
               (3, 1, 'soft', 'blocked', 'dsn', 'delayed', 'x.test', '{t}'), (1, 1, 'complaint', 'complaint', 'arf', NULL, 'x.test', '{t}'),
               (3, NULL, 'soft', 'blocked', 'smtp', NULL, 'y.test', '{t}'), (4, NULL, 'soft', 'blocked', 'smtp', NULL, 'y.test', '{t}'),
               (5, NULL, 'soft', 'blocked', 'smtp', NULL, 'z.test', '{old}');"
        ))
        .await;
        let rates = store.send_rates(10).await.expect("rates");
        let rate = |issue: &str, sent, bounced, complaints| SendRate { issue: issue.into(), sent, bounced, complaints };
        assert_eq!(rates, [rate("second", 1, 0, 0), rate("first", 3, 1, 1)]);
        assert_eq!(store.send_rates(1).await.expect("rates").len(), 1);
        let blocked = store.blocked_by_domain(30, 10).await.expect("blocked");
        assert_eq!(blocked, [("y.test".to_string(), 2), ("x.test".to_string(), 1)]);
    }
}
