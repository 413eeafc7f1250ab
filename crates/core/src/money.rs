//! Exact money: integer minor units plus an ISO 4217 currency code.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// A 64-bit integer. GraphQL's `Int` is 32-bit, so 64-bit amounts travel as the `Long` scalar
/// (a JSON number, exactly as in REST).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = i64))]
pub struct Long(pub i64);

#[cfg(feature = "graphql")]
#[async_graphql::Scalar(name = "Long")]
impl async_graphql::ScalarType for Long {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            async_graphql::Value::Number(n) => match n.as_i64() {
                Some(v) => Ok(Long(v)),
                None => Err(async_graphql::InputValueError::custom("expected a 64-bit integer")),
            },
            async_graphql::Value::String(s) => s
                .parse::<i64>()
                .map(Long)
                .map_err(|_| async_graphql::InputValueError::custom("expected a 64-bit integer")),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::Number(self.0.into())
    }
}

/// `{"amount_minor": 1250000, "currency": "KRW"}`. Never a float.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "MoneyInput")
)]
pub struct Money {
    /// Amount in the currency's minor unit (cents for USD, won for KRW).
    pub amount_minor: Long,
    /// ISO 4217 code, upper case.
    #[cfg_attr(feature = "openapi", schema(example = "KRW"))]
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: &str) -> Money {
        Money { amount_minor: Long(amount_minor), currency: currency.to_string() }
    }

    /// Normalizes the currency code and checks it is ISO 4217.
    pub fn parse(self, field: &str) -> Result<Money, FieldError> {
        let code = self.currency.trim().to_ascii_uppercase();
        if iso_currency::Currency::from_code(&code).is_none() {
            return Err(FieldError::new(
                format!("{field}.currency"),
                "invalid_currency",
                format!("`{}` is not an ISO 4217 currency code", self.currency),
            ));
        }
        Ok(Money { amount_minor: self.amount_minor, currency: code })
    }

    /// `parse`, and the amount must not be negative (prices, costs, budgets).
    pub fn parse_non_negative(self, field: &str) -> Result<Money, FieldError> {
        let m = self.parse(field)?;
        if m.amount_minor.0 < 0 {
            return Err(FieldError::new(field, "out_of_range", "must not be negative"));
        }
        Ok(m)
    }
}

/// `10338.00 USD`, `1250000 KRW`: the amount in the currency's major unit, with its ISO 4217
/// number of decimals (two for a code it does not know).
impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let decimals = iso_currency::Currency::from_code(&self.currency).and_then(|c| c.exponent()).unwrap_or(2);
        let minor = i128::from(self.amount_minor.0);
        let sign = if minor < 0 { "-" } else { "" };
        let scale = 10i128.pow(u32::from(decimals));
        let (major, rest) = (minor.abs() / scale, minor.abs() % scale);
        if decimals == 0 {
            write!(f, "{sign}{major} {}", self.currency)
        } else {
            write!(f, "{sign}{major}.{rest:0width$} {}", self.currency, width = usize::from(decimals))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_in_major_units() {
        assert_eq!(Money::new(1_033_800, "USD").to_string(), "10338.00 USD");
        assert_eq!(Money::new(-5, "EUR").to_string(), "-0.05 EUR");
        assert_eq!(Money::new(1_250_000, "KRW").to_string(), "1250000 KRW");
        assert_eq!(Money::new(1234, "KWD").to_string(), "1.234 KWD");
    }

    #[test]
    fn currency_is_normalized_and_checked() {
        let m = Money::new(1_250_000, " krw ").parse("x").unwrap();
        assert_eq!(m.currency, "KRW");
        let e = Money::new(1, "XYZ1").parse("annual_revenue").unwrap_err();
        assert_eq!(e.field, "annual_revenue.currency");
        let json = serde_json::to_value(Money::new(5_000_000_000_000, "USD")).unwrap();
        assert_eq!(json["amount_minor"], 5_000_000_000_000i64);
        assert_eq!(Money::new(-1, "EUR").parse_non_negative("cost").unwrap_err().code, "out_of_range");
        assert!(Money::new(0, "eur").parse_non_negative("cost").is_ok());
    }
}
