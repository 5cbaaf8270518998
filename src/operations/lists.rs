//! Creating a list.

use crate::domain::{LanguageTag, ListSlug};
use crate::store::{Actor, List, NewList, Store};

use super::OpError;

pub struct ListInput<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub language: Option<&'a str>,
    pub description: &'a str,
    /// false: the list's issues stay off the public archive and feeds.
    pub public: bool,
}

pub async fn create_list(store: &Store, input: ListInput<'_>, default_language: &str, actor: &Actor) -> Result<List, OpError> {
    let slug = ListSlug::parse(input.slug).map_err(|e| OpError::invalid("slug", format!("list slug: {e}")))?;
    let language = LanguageTag::parse(input.language.unwrap_or(default_language)).map_err(|e| OpError::invalid("language", e))?;
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(OpError::invalid("name", "the list name must be non-empty and on one line"));
    }
    if input.description.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(OpError::invalid("description", "the list description may hold line breaks and tabs, but no other control characters"));
    }
    Ok(store.create_list(NewList { slug, name, language, description: input.description.to_string(), public: input.public }, actor).await?)
}
