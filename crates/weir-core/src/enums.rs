//! `string_enum!`: how Weir declares a closed set of spellings (a state, a
//! type, a reason) once: the enum, its wire and stored text (serde, OpenAPI,
//! `Display`/`FromStr`), the list of all variants, and, with the `sea-orm`
//! feature, a column type of its own.

use thiserror::Error;

/// A value outside an enumeration.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("must be one of {0}")]
pub struct NotOneOf(pub &'static str);

macro_rules! string_enum {
    // `$s:tt`, not `$s:literal`: a `literal` fragment reaches the `ToSchema`
    // derive wrapped in an invisible group, and it then ignores the
    // `#[serde(rename)]` (the document said `Http` where the wire says `http`).
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:tt),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        // Stored as its text through `FromStr`/`Display` (the store turns
        // the feature on): a column of this type cannot hold another value.
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType), sea_orm(value_type = "String"))]
        pub enum $name {
            $(
                $(#[$vm])*
                #[doc = $s]
                #[serde(rename = $s)]
                $variant,
            )+
        }

        impl $name {
            /// All accepted spellings, for messages.
            pub const ALL: &'static str = concat!($($s, " "),+);

            /// Every variant, in declaration order.
            pub const VARIANTS: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialized name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s,)+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = NotOneOf;
            fn from_str(s: &str) -> Result<Self, NotOneOf> {
                match s { $($s => Ok($name::$variant),)+ _ => Err(NotOneOf($name::ALL.trim_end())) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;
