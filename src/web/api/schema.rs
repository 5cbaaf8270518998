//! What the generated document cannot learn from the types: the values of the status columns the
//! store keeps as text, and the one rule between two fields of a send.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::domain::{ConsentSource, SubscriberStatus, SubscriptionStatus};

fn string_enum(values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(SchemaType::new(Type::String)).enum_values(Some(values)).into()
}

impl PartialSchema for SubscriptionStatus {
    fn schema() -> RefOr<Schema> {
        string_enum(Self::ALL.iter().map(|s| s.as_str()))
    }
}

impl ToSchema for SubscriptionStatus {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SubscriptionStatus")
    }
}

impl PartialSchema for SubscriberStatus {
    fn schema() -> RefOr<Schema> {
        string_enum(Self::ALL.iter().map(|s| s.as_str()))
    }
}

impl ToSchema for SubscriberStatus {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SubscriberStatus")
    }
}

impl PartialSchema for ConsentSource {
    fn schema() -> RefOr<Schema> {
        string_enum(Self::ALL.iter().map(|s| s.as_str()))
    }
}

impl ToSchema for ConsentSource {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ConsentSource")
    }
}

/// The values of the text columns the rows carry, as the schema's `CHECK` constraints allow them
/// (migrations/0001_initial.sql, 0003_staff.sql).
const ISSUE_STATUS: [&str; 6] = ["draft", "scheduled", "sending", "paused", "sent", "cancelled"];
const DELIVERY_STATE: [&str; 6] = ["queued", "sending", "sent", "failed", "bounced", "skipped"];
const BOUNCE_KIND: [&str; 5] = ["hard", "soft", "complaint", "auto_reply", "not_bounce"];
const IMPORT_STATE: [&str; 3] = ["running", "done", "failed"];

/// Row fields that are text in the store and one of a few values on the wire: (schema, field,
/// the named enum it takes).
const ENUM_FIELDS: [(&str, &str, &str); 10] = [
    ("Issue", "status", "IssueStatus"),
    ("SendStatus", "status", "IssueStatus"),
    ("SubscriberRow", "status", "SubscriberStatus"),
    ("SubscriberDetail", "status", "SubscriberStatus"),
    ("SubscriptionRecord", "status", "SubscriptionStatus"),
    ("SubscriptionRecord", "consent_source", "ConsentSource"),
    ("DeliveryRecord", "state", "DeliveryState"),
    ("BounceLogEntry", "kind", "BounceKind"),
    ("BounceRecord", "kind", "BounceKind"),
    ("ImportJob", "state", "ImportState"),
];

pub struct Enums;

impl Modify for Enums {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in [
            ("IssueStatus", string_enum(ISSUE_STATUS)),
            ("DeliveryState", string_enum(DELIVERY_STATE)),
            ("BounceKind", string_enum(BOUNCE_KIND)),
            ("ImportState", string_enum(IMPORT_STATE)),
            ("SubscriberStatus", SubscriberStatus::schema()),
            ("SubscriptionStatus", SubscriptionStatus::schema()),
            ("ConsentSource", ConsentSource::schema()),
        ] {
            components.schemas.insert(name.to_string(), schema);
        }
        for (schema, field, values) in ENUM_FIELDS {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else { panic!("the API has no schema {schema}") };
            let property = object.properties.get_mut(field).unwrap_or_else(|| panic!("{schema} has no field {field}"));
            *property = RefOr::Ref(Ref::from_schema_name(values));
        }
        // `at` schedules the send, `test` sends one copy now: never both.
        // utoipa's Object has no `not`; its extensions are written as the schema's own keys.
        if let Some(RefOr::T(Schema::Object(send))) = components.schemas.get_mut("SendBody") {
            let extensions = send.extensions.get_or_insert_with(Default::default);
            // Null stands for absent, as the server reads it.
            let both = serde_json::json!({"required": ["at", "test"], "properties": {"at": {"type": "string"}, "test": {"type": "string"}}});
            extensions.insert("not".to_string(), both);
        }
    }
}
