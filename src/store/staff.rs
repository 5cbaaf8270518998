//! Staff accounts, API tokens and login sessions. Secrets arrive here already hashed.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::conn::{Job, q, serialise};
use super::events::{Actor, NewEvent, append};
use super::{Result, Store, StoreError, unique_violation};
use crate::domain::{EmailAddress, Role};

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct StaffMember {
    pub id: i64,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub created_at: DateTime<Utc>,
}

/// A role as stored; a row with any other text is refused by the table's CHECK.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(transparent)]
pub struct RoleColumn(pub Role);

impl TryFrom<String> for RoleColumn {
    type Error = crate::domain::UnknownRole;
    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        s.parse().map(RoleColumn)
    }
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct TokenRecord {
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Who is acting, once a token or a session has been checked.
#[derive(Debug, Clone)]
pub struct StaffIdentity {
    /// `staff:EMAIL` or `token:NAME`, as the event log records it.
    pub actor: Actor,
    pub role: Role,
    pub staff_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub identity: StaffIdentity,
    pub email: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn add_staff(&self, email: &EmailAddress, password_hash: &str, role: Role, actor: &Actor) -> Result<StaffMember> {
        let now = super::now();
        let mut tx = self.write().await?;
        let member: StaffMember = q!(one, &mut tx, "INSERT INTO staff (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id, email, role, created_at", email.key(), password_hash, role.as_str(), now)
            .map_err(|e| if unique_violation(&e) { StoreError::StaffExists(email.to_string()) } else { e.into() })?;
        append(&mut tx, audit("staff.added", actor, json!({"staff_id": member.id, "role": role})), now).await?;
        tx.commit().await?;
        Ok(member)
    }

    pub async fn list_staff(&self) -> Result<Vec<StaffMember>> {
        Ok(q!(all, &mut self.read().await?, "SELECT id, email, role, created_at FROM staff ORDER BY email")?)
    }

    pub async fn remove_staff(&self, email: &EmailAddress, actor: &Actor) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        // Two owners removing each other at once must not both see one owner left.
        serialise(&mut tx, Job::Staff).await?;
        let id: Option<i64> = q!(scalar_opt, &mut tx, "DELETE FROM staff WHERE email = $1 RETURNING id", email.key())?;
        let id = id.ok_or_else(|| StoreError::UnknownStaff(email.to_string()))?;
        let owners_left: i64 = q!(scalar, &mut tx, "SELECT COUNT(*) FROM staff WHERE role = 'owner'")?;
        let others: i64 = q!(scalar, &mut tx, "SELECT COUNT(*) FROM staff")?;
        if owners_left == 0 && others > 0 {
            // Dropping the transaction undoes the delete: someone must be able to manage staff.
            return Err(StoreError::LastOwner(email.to_string()));
        }
        append(&mut tx, audit("staff.removed", actor, json!({"staff_id": id})), now).await?;
        tx.commit().await
    }

    /// The account and its password hash, for a login attempt.
    pub async fn staff_credentials(&self, email: &EmailAddress) -> Result<Option<(StaffMember, String)>> {
        let row: Option<(i64, String, String, DateTime<Utc>, String)> =
            q!(opt, &mut self.read().await?, "SELECT id, email, role, created_at, password_hash FROM staff WHERE email = $1", email.key())?;
        row.map(|(id, email, role, created_at, hash)| {
            let role = RoleColumn::try_from(role).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok((StaffMember { id, email, role, created_at }, hash))
        })
        .transpose()
    }

    pub async fn create_token(&self, name: &str, token_hash: &str, role: Role, actor: &Actor) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "INSERT INTO api_tokens (name, token_hash, role, created_at) VALUES ($1, $2, $3, $4)", name, token_hash, role.as_str(), now)
            .map_err(|e| if unique_violation(&e) { StoreError::TokenExists(name.to_string()) } else { e.into() })?;
        append(&mut tx, audit("token.created", actor, json!({"name": name, "role": role})), now).await?;
        tx.commit().await
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        Ok(q!(all, &mut self.read().await?, "SELECT name, role, created_at, last_used_at FROM api_tokens WHERE revoked_at IS NULL ORDER BY name")?)
    }

    pub async fn revoke_token(&self, name: &str, actor: &Actor) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        let name = name.trim();
        let done = q!(exec, &mut tx, "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL", now, name)?;
        if done == 0 {
            return Err(StoreError::UnknownToken(name.to_string()));
        }
        append(&mut tx, audit("token.revoked", actor, json!({"name": name})), now).await?;
        tx.commit().await
    }

    /// The live token with this digest, noting its use. `last_used_at` is written at most once
    /// a minute a token, so a busy script does not turn every read into a write.
    pub async fn authenticate_token(&self, token_hash: &str) -> Result<Option<StaffIdentity>> {
        let row: Option<(String, String, Option<DateTime<Utc>>)> =
            q!(opt, &mut self.read().await?, "SELECT name, role, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", token_hash)?;
        let Some((name, role, last_used)) = row else { return Ok(None) };
        let now = super::now();
        if last_used.is_none_or(|t| now - t > Duration::minutes(1)) {
            let mut tx = self.write().await?;
            q!(exec, &mut tx, "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2", now, token_hash)?;
            tx.commit().await?;
        }
        let role = role.parse().map_err(|e: crate::domain::UnknownRole| StoreError::Corrupt(e.to_string()))?;
        Ok(Some(StaffIdentity { actor: Actor(format!("token:{name}")), role, staff_id: None }))
    }

    pub async fn create_session(&self, staff: &StaffMember, id_hash: &str, csrf: &str, lifetime: Duration, from: &str) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "DELETE FROM staff_sessions WHERE expires_at < $1", now)?;
        q!(exec, &mut tx, "INSERT INTO staff_sessions (id_hash, staff_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)", id_hash, staff.id, csrf, now, now + lifetime)?;
        let actor = Actor(format!("staff:{}", staff.email));
        append(&mut tx, audit("staff.login", &actor, json!({"from": from})), now).await?;
        tx.commit().await
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<Session>> {
        let row: Option<(i64, String, String, String, DateTime<Utc>)> = q!(opt, &mut self.read().await?, "SELECT s.id, s.email, s.role, x.csrf, x.expires_at FROM staff_sessions x JOIN staff s ON s.id = x.staff_id WHERE x.id_hash = $1 AND x.expires_at > $2", id_hash, super::now())?;
        row.map(|(id, email, role, csrf, expires_at)| {
            let role = role.parse().map_err(|e: crate::domain::UnknownRole| StoreError::Corrupt(e.to_string()))?;
            Ok(Session { identity: StaffIdentity { actor: Actor(format!("staff:{email}")), role, staff_id: Some(id) }, email, csrf, expires_at })
        })
        .transpose()
    }

    pub async fn end_session(&self, id_hash: &str) -> Result<()> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "DELETE FROM staff_sessions WHERE id_hash = $1", id_hash)?;
        tx.commit().await
    }
}

fn audit<'a>(kind: &'a str, actor: &'a Actor, detail: serde_json::Value) -> NewEvent<'a> {
    NewEvent { kind, actor, subscriber_id: None, list_id: None, issue_id: None, detail }
}
