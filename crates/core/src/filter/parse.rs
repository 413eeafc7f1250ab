//! The filter grammar's parser (see the module docs).

use super::{Filter, FilterError, MAX_DEPTH, MAX_FILTER_LEN, Op, RawValue};

/// Parses the filter grammar. An empty input is an empty `And` (matches everything).
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(FilterError {
            field: "filter".into(),
            code: "too_complex",
            message: format!("filter is longer than {MAX_FILTER_LEN} bytes"),
        });
    }
    let mut p = Parser { s: input.as_bytes(), src: input, i: 0 };
    p.ws();
    if p.i == p.s.len() {
        return Ok(Filter::And(Vec::new()));
    }
    let items = p.list_until(None, 0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(FilterError::syntax(p.i, format!("unexpected `{}`", p.rest_preview())));
    }
    Ok(if items.len() == 1 { items.into_iter().next().unwrap_or(Filter::And(Vec::new())) } else { Filter::And(items) })
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn rest_preview(&self) -> String {
        self.src.get(self.i..).unwrap_or("").chars().take(20).collect()
    }

    fn expect(&mut self, c: u8) -> Result<(), FilterError> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(FilterError::syntax(self.i, format!("expected `{}`", c as char)))
        }
    }

    /// Comma-separated expressions up to `close` (or end of input when `None`).
    fn list_until(&mut self, close: Option<u8>, depth: usize) -> Result<Vec<Filter>, FilterError> {
        let mut out = Vec::new();
        loop {
            out.push(self.expr(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                }
                c if c == close => return Ok(out),
                None => return Err(FilterError::syntax(self.i, "unexpected end of filter")),
                Some(_) => return Err(FilterError::syntax(self.i, format!("unexpected `{}`", self.rest_preview()))),
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        self.src.get(start..self.i).unwrap_or("").to_string()
    }

    fn expr(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if depth >= MAX_DEPTH {
            return Err(FilterError {
                field: "filter".into(),
                code: "too_complex",
                message: format!("filter nests deeper than {MAX_DEPTH} levels"),
            });
        }
        self.ws();
        let name = self.ident();
        if name.is_empty() {
            return Err(FilterError::syntax(self.i, "expected a field name, `and(`, `or(` or `not(`"));
        }
        self.ws();
        if self.peek() == Some(b'(') && matches!(name.as_str(), "and" | "or" | "not") {
            self.i += 1;
            let f = match name.as_str() {
                "and" => Filter::And(self.list_until(Some(b')'), depth + 1)?),
                "or" => Filter::Or(self.list_until(Some(b')'), depth + 1)?),
                _ => {
                    let inner = self.expr(depth + 1)?;
                    self.ws();
                    if self.peek() != Some(b')') {
                        return Err(FilterError::syntax(self.i, "`not(...)` takes exactly one expression"));
                    }
                    Filter::Not(Box::new(inner))
                }
            };
            self.i += 1; // the ')'
            return Ok(f);
        }
        let mut path = vec![name];
        while self.peek() == Some(b'.') {
            self.i += 1;
            let seg = self.ident();
            if seg.is_empty() {
                return Err(FilterError::syntax(self.i, "expected a field name after `.`"));
            }
            path.push(seg);
        }
        self.ws();
        if self.peek() == Some(b'(') {
            // `purchases(…)`: conditions on one related record.
            self.i += 1;
            let items = self.list_until(Some(b')'), depth + 1)?;
            self.i += 1; // the ')'
            let inner = if items.len() == 1 {
                items.into_iter().next().unwrap_or(Filter::And(Vec::new()))
            } else {
                Filter::And(items)
            };
            return Ok(Filter::Within { path, inner: Box::new(inner) });
        }
        self.expect(b'[')?;
        let op_start = self.i;
        let op_name = self.ident();
        let op = Op::parse(&op_name)
            .ok_or_else(|| FilterError::syntax(op_start, format!("unknown operator `{op_name}`")))?;
        self.expect(b']')?;
        self.expect(b':')?;
        self.ws();
        let value = if self.peek() == Some(b'[') {
            self.i += 1;
            let mut items = Vec::new();
            self.ws();
            if self.peek() == Some(b']') {
                self.i += 1;
            } else {
                loop {
                    items.push(self.item()?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        _ => return Err(FilterError::syntax(self.i, "expected `,` or `]` in list")),
                    }
                }
            }
            RawValue::List(items)
        } else {
            RawValue::One(self.item()?)
        };
        Ok(Filter::Cond { path, op, value })
    }

    fn item(&mut self) -> Result<String, FilterError> {
        self.ws();
        if self.peek() == Some(b'"') {
            let start = self.i;
            self.i += 1;
            let mut out = String::new();
            let mut seg_start = self.i;
            loop {
                match self.peek() {
                    None => return Err(FilterError::syntax(start, "unterminated quoted string")),
                    Some(b'"') => {
                        out.push_str(self.src.get(seg_start..self.i).unwrap_or(""));
                        self.i += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        out.push_str(self.src.get(seg_start..self.i).unwrap_or(""));
                        self.i += 1;
                        match self.peek() {
                            Some(c @ (b'"' | b'\\')) => {
                                out.push(c as char);
                                self.i += 1;
                            }
                            _ => return Err(FilterError::syntax(self.i, "only \\\" and \\\\ escapes are allowed")),
                        }
                        seg_start = self.i;
                    }
                    Some(_) => self.i += 1,
                }
            }
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b')' | b']') {
                break;
            }
            self.i += 1;
        }
        // Bare values stop at ASCII delimiters only, so the slice ends on a char boundary.
        Ok(self.src.get(start..self.i).unwrap_or("").trim().to_string())
    }
}
