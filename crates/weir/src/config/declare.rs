//! `settings!`: turns the option list in `options.rs` into everything that
//! used to repeat it — the raw [`Settings`](super::Settings) (clap flags,
//! `WEIR_*` variables, TOML keys), `--help` with its `[default: …]`, the
//! typed and range-checked [`Values`](super::options::Values),
//! [`KNOWN_ENV`](super::KNOWN_ENV), [`OPTIONS`](super::OPTIONS) and the
//! README's configuration table.
//!
//! An entry reads
//! `/// meaning (Markdown)` then
//! `key: Type = default, "WEIR_VAR" [, range(lo, hi)] [, parse(f)] [, shown("…")];`
//! where `parse` defaults to [`number`](super::parse::number) and `shown`
//! (Markdown) replaces the rendered default when there is none to render.

/// The default's Markdown: `shown` if given, else the default rendered.
macro_rules! default_text {
    ($ty:ty, $default:expr, $shown:literal) => {
        String::from($shown)
    };
    ($ty:ty, $default:expr) => {{
        let d: $ty = $default;
        format!("`{}`", Show::show(&d))
    }};
}

/// The entry's parser, [`number`](super::parse::number) unless named.
macro_rules! parser {
    ($ty:ty, $parse:expr) => {
        $parse
    };
    ($ty:ty) => {
        number::<$ty>
    };
}

macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident : $ty:ty = $default:expr, $env:literal
            $(, range($lo:expr, $hi:expr))?
            $(, parse($parse:expr))?
            $(, shown($shown:literal))?
        ;
    )*) => {
        /// Every option as given (flag or environment, then file); `None`
        /// when unset.
        #[derive(Clone, Default, clap::Args, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Settings {
            /// A TOML file with any of the options below (keys in snake_case).
            #[arg(long, env = "WEIR_CONFIG", value_name = "PATH")]
            #[serde(skip)]
            pub config: Option<std::path::PathBuf>,
            $(
                $(#[doc = $doc])*
                #[arg(long, env = $env, hide_env_values = true,
                    help = help_text(concat!($($doc),*), &default_text!($ty, $default $(, $shown)?)))]
                #[serde(default, deserialize_with = "stringish")]
                pub $field: Option<String>,
            )*
        }

        impl Settings {
            /// Fills options unset here from `lower` (flags/env beat the file).
            pub(super) fn or(self, lower: Settings) -> Settings {
                Settings { config: self.config, $( $field: self.$field.or(lower.$field), )* }
            }
        }

        /// Every option parsed and range-checked; unset ones hold their default.
        pub(super) struct Values {
            $( pub(super) $field: $ty, )*
        }

        impl Values {
            /// The first unusable value (in declaration order) is the error.
            pub(super) fn parse(s: &Settings) -> Result<Values, ConfigError> {
                Ok(Values { $( $field: {
                    let c = Check::new(stringify!($field), $env, s.$field.as_deref());
                    match c.value {
                        None => $default,
                        Some(v) => {
                            let x: $ty = (parser!($ty $(, $parse)?))(v).map_err(|e| c.fail(e))?;
                            $( c.within(&x, $lo, $hi)?; )?
                            x
                        }
                    }
                }, )* })
            }
        }

        /// Every `WEIR_*` variable Weir reads.
        pub const KNOWN_ENV: &[&str] = &["WEIR_CONFIG", $( $env, )*];

        /// (option, variable, meaning in Markdown) for documentation.
        pub const OPTIONS: &[(&str, &str, &str)] = &[$( (stringify!($field), $env, concat!($($doc),*)), )*];

        /// The README's configuration table, header included, one line per
        /// option in declaration order.
        pub fn markdown_table() -> String {
            let mut t = String::from("| option (file key) | variable | flag | default | meaning |\n|---|---|---|---|---|\n");
            $(
                t.push_str(&format!(
                    "| `{}` | `{}` | `--{}` | {} | {} |\n",
                    stringify!($field),
                    $env,
                    stringify!($field).replace('_', "-"),
                    default_text!($ty, $default $(, $shown)?),
                    concat!($($doc),*).trim(),
                ));
            )*
            t
        }
    };
}
