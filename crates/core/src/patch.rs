//! JSON merge patch fields: absent = unchanged, `null` = cleared, value = set.

use serde::{Deserialize, Deserializer};

/// One field of a merge patch. Use `#[serde(default)]` on the containing struct.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// Applies the patch to a current optional value.
    pub fn apply_to(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Null => None,
            Patch::Value(v) => Some(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }

    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Only called when the field is present; absent fields take `Default`.
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

impl<T: serde::Serialize> serde::Serialize for Patch<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Value(v) => v.serialize(s),
            _ => s.serialize_none(),
        }
    }
}

/// A record's current value of a field, as the optional value a patch applies to: `Some` of a
/// required field, the field itself when it is optional. What `#[derive(MergePatch)]` calls.
pub trait AsOption<T> {
    fn as_option(&self) -> Option<T>;
}

impl<T: Clone> AsOption<T> for T {
    fn as_option(&self) -> Option<T> {
        Some(self.clone())
    }
}

impl<T: Clone> AsOption<T> for Option<T> {
    fn as_option(&self) -> Option<T> {
        self.clone()
    }
}

impl Patch<serde_json::Value> {
    /// Applies this patch to a JSON object field (custom fields) with RFC 7396 semantics for
    /// the object itself: absent keeps it, `null` empties it, an object is merged key by key.
    pub fn merge_into(self, current: serde_json::Value) -> serde_json::Value {
        match self {
            Patch::Absent => current,
            Patch::Null => serde_json::json!({}),
            Patch::Value(v) => merge_json(current, v),
        }
    }
}

/// RFC 7396 JSON merge patch.
pub fn merge_json(target: serde_json::Value, patch: serde_json::Value) -> serde_json::Value {
    match patch {
        serde_json::Value::Object(p) => {
            let mut t = match target {
                serde_json::Value::Object(t) => t,
                _ => serde_json::Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    let cur = t.remove(&k).unwrap_or(serde_json::Value::Null);
                    t.insert(k, merge_json(cur, v));
                }
            }
            serde_json::Value::Object(t)
        }
        other => other,
    }
}

#[cfg(feature = "graphql")]
mod graphql {
    use std::borrow::Cow;

    use async_graphql::{InputType, InputValueError, InputValueResult, Value, registry};

    use super::Patch;

    // Same wire behaviour as async-graphql's `MaybeUndefined`.
    impl<T: InputType> InputType for Patch<T> {
        type RawValueType = T::RawValueType;

        fn type_name() -> Cow<'static, str> {
            T::type_name()
        }

        fn qualified_type_name() -> String {
            T::type_name().to_string()
        }

        fn create_type_info(registry: &mut registry::Registry) -> String {
            T::create_type_info(registry);
            T::type_name().to_string()
        }

        fn parse(value: Option<Value>) -> InputValueResult<Self> {
            match value {
                None => Ok(Patch::Absent),
                Some(Value::Null) => Ok(Patch::Null),
                Some(v) => Ok(Patch::Value(T::parse(Some(v)).map_err(InputValueError::propagate)?)),
            }
        }

        fn to_value(&self) -> Value {
            match self {
                Patch::Value(v) => v.to_value(),
                _ => Value::Null,
            }
        }

        fn as_raw_value(&self) -> Option<&Self::RawValueType> {
            match self {
                Patch::Value(v) => v.as_raw_value(),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct P {
        a: Patch<String>,
        b: Patch<String>,
        c: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_are_distinct() {
        let p: P = serde_json::from_str(r#"{"b": null, "c": "x"}"#).unwrap();
        assert_eq!(p.a, Patch::Absent);
        assert_eq!(p.b, Patch::Null);
        assert_eq!(p.c, Patch::Value("x".into()));
        assert_eq!(Patch::Absent.apply_to(Some(1)), Some(1));
        assert_eq!(Patch::<i32>::Null.apply_to(Some(1)), None);
    }

    #[test]
    fn merge_json_follows_rfc7396() {
        let t = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}});
        let p = serde_json::json!({"a": null, "b": {"c": 5}, "e": "x"});
        assert_eq!(merge_json(t.clone(), p.clone()), serde_json::json!({"b": {"c": 5, "d": 3}, "e": "x"}));
        assert_eq!(Patch::Value(p).merge_into(t.clone()), serde_json::json!({"b": {"c": 5, "d": 3}, "e": "x"}));
        assert_eq!(Patch::Null.merge_into(t.clone()), serde_json::json!({}));
        assert_eq!(Patch::Absent.merge_into(t.clone()), t);
    }
}
