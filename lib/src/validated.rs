//! String newtypes whose value is checked while deserializing, so a bad value is reported at
//! its line and whatever reaches a renderer is already safe to write.

/// `validated_string!(Name, "Source", SourceType, check f)`: `f(&str) -> Result<(), String>`,
/// the value is kept as written. `… normalize f`: `f(&str) -> Result<String, String>`, the
/// normalized form is kept (lower-case MACs, canonical IP addresses). `SourceType` must convert
/// into `String`; `"Source"` is its name for serde's `try_from`.
macro_rules! validated_string {
    ($name:ident, $from:literal, $from_ty:ty, check $check:path) => {
        $crate::validated::validated_string!(@impl $name, $from, $from_ty, |s: String| $check(&s).map(|()| s));
    };
    ($name:ident, $from:literal, $from_ty:ty, normalize $normalize:path) => {
        $crate::validated::validated_string!(@impl $name, $from, $from_ty, |s: String| $normalize(&s));
    };
    (@impl $name:ident, $from:literal, $from_ty:ty, $make:expr) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
        #[serde(try_from = $from)]
        pub struct $name(String);

        impl TryFrom<$from_ty> for $name {
            type Error = String;
            fn try_from(v: $from_ty) -> Result<Self, String> {
                let s: String = v.into();
                ($make)(s).map(Self)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use validated_string;
