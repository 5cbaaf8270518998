//! The states a subscriber and a subscription can be in, and where consent came from.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (expected one of: {expected})")]
pub struct UnknownStatus {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Result<Self, UnknownStatus> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownStatus {
                        kind: $kind,
                        value: value.to_string(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// A subscription is one person on one list.
    SubscriptionStatus, "subscription status" {
        Pending => "pending",
        Confirmed => "confirmed",
        Unsubscribed => "unsubscribed",
    }
);

string_enum!(
    /// Whether a person may be mailed at all, whatever their lists say.
    SubscriberStatus, "subscriber status" {
        Active => "active",
        Bounced => "bounced",
        Complained => "complained",
    }
);

string_enum!(
    /// How a subscription came to be: part of the consent evidence.
    ConsentSource, "consent source" {
        Cli => "cli",
        Import => "import",
        Form => "form",
        Api => "api",
        Admin => "admin",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for s in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(s.as_str()), Ok(*s));
        }
        for s in SubscriberStatus::ALL {
            assert_eq!(SubscriberStatus::parse(s.as_str()), Ok(*s));
        }
        let err = SubscriptionStatus::parse("gone").unwrap_err();
        assert!(err.to_string().contains("pending confirmed unsubscribed"), "{err}");
    }
}
