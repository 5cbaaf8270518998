//! Bulk import on PostgreSQL: the batch's addresses go in by `COPY` to a staging table that the
//! lookup joins; the writes take arrays. PostgreSQL refuses an upsert that touches one row twice,
//! so an address repeated in the batch is merged here first, in file order, as SQLite's
//! row-after-row upsert would.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::PgConnection;

use crate::domain::SuppressionKey;
use crate::store::Result;
use crate::store::import::{ImportRow, Known, Plan};

const STAGE: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS import_stage (idx bigint NOT NULL, email_key text COLLATE \"C\" NOT NULL, email_hash text COLLATE \"C\" NOT NULL)
     ON COMMIT DELETE ROWS";

/// Probes the indexes once per staged row: scalar subqueries, kept apart by `OFFSET 0`, are not
/// turned into a join, which the planner would make a hash of every subscriber (300 ms a batch
/// at a million subscribers, where the probes take a few).
const LOOKUP: &str = "SELECT idx, subscriber_status, list_status, suppressed FROM (
         SELECT g.idx,
                (SELECT s.status FROM subscribers s WHERE s.email_key = g.email_key) AS subscriber_status,
                (SELECT u.status FROM subscribers s JOIN subscriptions u ON u.list_id = $1 AND u.subscriber_id = s.id WHERE s.email_key = g.email_key) AS list_status,
                EXISTS (SELECT 1 FROM suppressions x WHERE x.email_hash = g.email_hash) AS suppressed
         FROM import_stage g OFFSET 0
     ) AS k
     WHERE subscriber_status IS NOT NULL OR suppressed";

const UPDATE_KNOWN: &str = "UPDATE subscribers s SET name = CASE WHEN u.name <> '' THEN u.name ELSE s.name END,
         attributes = jsonb_strip_nulls(s.attributes || CAST(u.attrs AS jsonb)), updated_at = $4
     FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(key, name, attrs)
     WHERE s.email_key = u.key";

/// New people and their subscriptions in one statement: the ids the insert returns are where
/// the subscriptions go, with no second search by address.
const INSERT_NEW: &str = "WITH added AS (
         INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at)
         SELECT u.email, u.key, u.name, jsonb_strip_nulls(CAST(u.attrs AS jsonb)), $5, $5 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS u(email, key, name, attrs)
         ON CONFLICT (email_key) DO UPDATE SET
            name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE subscribers.name END,
            attributes = jsonb_strip_nulls(subscribers.attributes || excluded.attributes), updated_at = excluded.updated_at
         RETURNING id)
     INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at)
     SELECT $6, id, $7, 'import', $5, $8, $5 FROM added
     ON CONFLICT (list_id, subscriber_id) DO NOTHING";

const ADD_SUBSCRIPTIONS: &str = "INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at)
     SELECT $1, id, $2, 'import', $3, $4, $3 FROM subscribers WHERE email_key = ANY($5::text[])
     ON CONFLICT (list_id, subscriber_id) DO NOTHING";

const CONFIRM_PENDING: &str = "UPDATE subscriptions SET status = 'confirmed', confirmed_at = $1, updated_at = $1
     WHERE list_id = $2 AND status = 'pending' AND subscriber_id IN (SELECT id FROM subscribers WHERE email_key = ANY($3::text[]))";

/// What the database knows of the rows' addresses, indexed by position in `rows`.
pub async fn lookup(conn: &mut PgConnection, list_id: i64, rows: &[ImportRow], suppression: &SuppressionKey) -> Result<Vec<Known>> {
    sqlx::query(STAGE).execute(&mut *conn).await?;
    let mut data = String::with_capacity(rows.len() * 120);
    for (i, row) in rows.iter().enumerate() {
        data.push_str(&format!("{i}\t{}\t{}\n", copy_text(row.key()), suppression.hash_digest(row.digest())));
    }
    let mut copy = conn.copy_in_raw("COPY import_stage (idx, email_key, email_hash) FROM STDIN").await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    // A temporary table has no statistics until asked: without them the lookup is planned for a
    // handful of rows and scans the subscribers, slower with every batch.
    sqlx::query("ANALYZE import_stage").execute(&mut *conn).await?;
    Ok(sqlx::query_as(LOOKUP).bind(list_id).fetch_all(&mut *conn).await?)
}

pub async fn apply(conn: &mut PgConnection, list_id: i64, confirmed: bool, plan: &Plan<'_>, now: DateTime<Utc>) -> Result<()> {
    let people = fold_repeats(&plan.merged);
    let known: Vec<&String> = people.iter().filter(|p| p.known).map(|p| &p.key).collect();
    if !known.is_empty() {
        let (names, attrs): (Vec<&str>, Vec<String>) = people.iter().filter(|p| p.known).map(|p| (p.name.as_str(), Value::Object(p.attributes.clone()).to_string())).unzip();
        sqlx::query(UPDATE_KNOWN).bind(known).bind(names).bind(attrs).bind(now).execute(&mut *conn).await?;
    }
    let status = if confirmed { "confirmed" } else { "pending" };
    let new: Vec<&Person> = people.iter().filter(|p| !p.known).collect();
    if !new.is_empty() {
        let emails: Vec<&str> = new.iter().map(|p| p.email.as_str()).collect();
        let keys: Vec<&str> = new.iter().map(|p| p.key.as_str()).collect();
        let names: Vec<&str> = new.iter().map(|p| p.name.as_str()).collect();
        let attrs: Vec<String> = new.iter().map(|p| Value::Object(p.attributes.clone()).to_string()).collect();
        sqlx::query(INSERT_NEW).bind(emails).bind(keys).bind(names).bind(attrs).bind(now).bind(list_id).bind(status).bind(confirmed.then_some(now)).execute(&mut *conn).await?;
    }
    // People on record who are new to this list.
    let new_people: std::collections::HashSet<&str> = new.iter().map(|p| p.key.as_str()).collect();
    let joining: Vec<&str> = plan.new.iter().copied().filter(|k| !new_people.contains(k)).collect();
    if !joining.is_empty() {
        sqlx::query(ADD_SUBSCRIPTIONS).bind(list_id).bind(status).bind(now).bind(confirmed.then_some(now)).bind(&joining).execute(&mut *conn).await?;
    }
    if !plan.pending.is_empty() {
        sqlx::query(CONFIRM_PENDING).bind(now).bind(list_id).bind(&plan.pending).execute(&mut *conn).await?;
    }
    Ok(())
}

/// One person of the batch, their rows merged.
struct Person {
    /// The spelling of the address's first row, as SQLite keeps it.
    email: String,
    key: String,
    /// The last name given (a row with none keeps the name before).
    name: String,
    /// The rows' attributes merged in order; a key set to null removes it from the record.
    attributes: Map<String, Value>,
    /// Whether the person existed before the batch (then their spelling is kept).
    known: bool,
}

fn fold_repeats(rows: &[(&ImportRow, bool)]) -> Vec<Person> {
    let mut people: Vec<Person> = Vec::with_capacity(rows.len());
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    for &(row, known) in rows {
        let attributes = match serde_json::from_str(&row.attributes) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        match at.get(row.key()) {
            Some(&i) => {
                let person = &mut people[i];
                if !row.name.is_empty() {
                    person.name = row.name.as_str().to_string();
                }
                person.attributes.extend(attributes);
            }
            None => {
                at.insert(row.key(), people.len());
                people.push(Person { email: row.email.as_str().to_string(), key: row.key().to_string(), name: row.name.as_str().to_string(), attributes, known });
            }
        }
    }
    people
}

/// A value in COPY's text format: backslash, tab, newline and carriage return escaped.
fn copy_text(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
}
