//! What a GraphQL document may cost, counted against the schema before it runs.
//!
//! A field costs 1 plus what it selects; a paged field (one with a `first` argument) costs 1
//! plus `first` times what one item selects, `first` read from the document, its variables, or
//! the argument's default. Every alias and every fragment spread counts again. The figure is
//! about the number of values an answer can hold, so the limit bounds the work and the size of
//! an answer whatever the aliases and nesting (`MAX_COMPLEXITY`).

use async_graphql::Variables;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::registry::{MetaTypeName, Registry};

/// Fragment spreads followed inside one another at most this deep (a cycle is refused by
/// validation afterwards; the walk only must not loop).
const MAX_SPREAD_DEPTH: usize = 16;

/// Selections the walk visits at most. Fragments spread many times into each other would make
/// the walk itself exponential; past this budget the document is too complex, whatever it
/// selects.
const MAX_STEPS: usize = 100_000;

/// The cost of the document's dearest operation (the one that runs is named only later),
/// saturating.
pub fn document_cost(registry: &Registry, doc: &ExecutableDocument, variables: &Variables) -> usize {
    doc.operations.iter().map(|(_, op)| operation_cost(registry, doc, &op.node, variables)).max().unwrap_or(0)
}

fn operation_cost(
    registry: &Registry,
    doc: &ExecutableDocument,
    op: &async_graphql::parser::types::OperationDefinition,
    variables: &Variables,
) -> usize {
    let root = match op.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => registry.subscription_type.as_deref(),
    };
    let defaults: Vec<(&str, Option<i64>)> = op
        .variable_definitions
        .iter()
        .map(|v| {
            let d = v.node.default_value.as_ref().and_then(|d| int_of(&d.node));
            (v.node.name.node.as_str(), d)
        })
        .collect();
    let walk = Walk { registry, doc, variables, defaults, steps: std::cell::Cell::new(0) };
    let cost = root.map(|t| walk.selection_cost(t, &op.selection_set.node, 0)).unwrap_or(0);
    if walk.steps.get() > MAX_STEPS { usize::MAX } else { cost }
}

struct Walk<'a> {
    registry: &'a Registry,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    defaults: Vec<(&'a str, Option<i64>)>,
    steps: std::cell::Cell<usize>,
}

fn int_of(v: &async_graphql::Value) -> Option<i64> {
    match v {
        async_graphql::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

impl Walk<'_> {
    fn selection_cost(&self, type_name: &str, set: &SelectionSet, spreads: usize) -> usize {
        let mut total: usize = 0;
        for item in &set.items {
            self.steps.set(self.steps.get() + 1);
            if self.steps.get() > MAX_STEPS {
                return usize::MAX;
            }
            let cost = match &item.node {
                Selection::Field(f) => self.field_cost(type_name, &f.node),
                Selection::InlineFragment(frag) => {
                    let t = frag.node.type_condition.as_ref().map(|c| c.node.on.node.as_str()).unwrap_or(type_name);
                    self.selection_cost(t, &frag.node.selection_set.node, spreads)
                }
                Selection::FragmentSpread(spread) if spreads < MAX_SPREAD_DEPTH => {
                    match self.doc.fragments.get(&spread.node.fragment_name.node) {
                        Some(def) => self.selection_cost(
                            def.node.type_condition.node.on.node.as_str(),
                            &def.node.selection_set.node,
                            spreads + 1,
                        ),
                        None => 0,
                    }
                }
                Selection::FragmentSpread(_) => 0,
            };
            total = total.saturating_add(cost);
        }
        total
    }

    fn field_cost(&self, type_name: &str, field: &async_graphql::parser::types::Field) -> usize {
        let meta = self.registry.types.get(type_name).and_then(|t| t.field_by_name(&field.name.node));
        let Some(meta) = meta else {
            // `__typename`, or a field validation will refuse.
            return 1;
        };
        let child_type = MetaTypeName::concrete_typename(&meta.ty);
        let children = if field.selection_set.node.items.is_empty() {
            0
        } else {
            self.selection_cost(child_type, &field.selection_set.node, 0)
        };
        let items = meta.args.get("first").map(|arg| {
            let given = field.arguments.iter().find(|(n, _)| n.node == "first").map(|(_, v)| &v.node);
            let n = match given {
                Some(async_graphql_value::Value::Variable(name)) => self
                    .variables
                    .get(name)
                    .and_then(int_of)
                    .or_else(|| self.defaults.iter().find(|(v, _)| *v == name.as_str()).and_then(|(_, d)| *d)),
                Some(v) => v.clone().into_const().as_ref().and_then(int_of),
                None => arg.default_value.as_deref().and_then(|d| d.parse().ok()),
            };
            usize::try_from(n.unwrap_or(1).max(1)).unwrap_or(usize::MAX)
        });
        match items {
            Some(n) => n.saturating_mul(children.max(1)).saturating_add(1),
            None => children.saturating_add(1),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};

    use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
    use async_graphql::{ServerResult, Variables};

    /// Records the cost of what the schema parses (async-graphql shows its registry only to
    /// extensions).
    struct Probe(Arc<Mutex<Option<usize>>>);

    impl ExtensionFactory for Probe {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(Probe(self.0.clone()))
        }
    }

    #[async_trait::async_trait]
    impl Extension for Probe {
        async fn parse_query(
            &self,
            ctx: &ExtensionContext<'_>,
            query: &str,
            variables: &Variables,
            next: NextParseQuery<'_>,
        ) -> ServerResult<ExecutableDocument> {
            let doc = async_graphql::parser::parse_query(query).unwrap();
            *self.0.lock().unwrap() = Some(document_cost(&ctx.schema_env.registry, &doc, variables));
            next.run(ctx, query, variables).await
        }
    }

    fn cost(query: &str, variables: serde_json::Value) -> usize {
        let seen = Arc::new(Mutex::new(None));
        use crate::graphql::{Mutation, Query};
        let schema =
            async_graphql::Schema::build(Query::default(), Mutation::default(), async_graphql::EmptySubscription)
                .extension(Probe(seen.clone()))
                .limit_recursive_depth(4)
                .finish();
        let request = async_graphql::Request::new(query).variables(Variables::from_json(variables));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(schema.execute(request));
        seen.lock().unwrap().expect("the query parsed")
    }

    #[test]
    fn fields_count_once_and_pages_multiply() {
        // contacts(first: 10): 1 + 10 × (nodes: 1 + id 1 + email 1 = 3) = 31, plus totalCount 1.
        assert_eq!(cost("{ contacts(first: 10) { totalCount nodes { id email } } }", serde_json::json!({})), 41);
        // The argument's default (50) when `first` is not given.
        assert_eq!(cost("{ contacts { nodes { id } } }", serde_json::json!({})), 1 + 50 * 2);
        // Aliases count again; variables are read.
        let two = "query($n: Int) { a: contacts(first: $n) { nodes { id } } b: contacts(first: $n) { nodes { id } } }";
        assert_eq!(cost(two, serde_json::json!({"n": 100})), 2 * (1 + 100 * 2));
        // A fragment counts as its fields, once per spread.
        let frag = "{ a: contacts(first: 2) { ...f } b: contacts(first: 2) { ...f } } fragment f on ContactConnection { nodes { id } }";
        assert_eq!(cost(frag, serde_json::json!({})), 2 * (1 + 2 * 2));
    }

    #[test]
    fn fragments_spread_into_each_other_cannot_make_the_walk_run_away() {
        // 10 levels of 10 spreads each: 10^10 selections if walked naively.
        let mut q = String::from("{ contacts(first: 1) { ...f0 } }");
        for level in 0..10 {
            let spreads: String = (0..10).map(|_| format!("...f{} ", level + 1)).collect();
            q.push_str(&format!(" fragment f{level} on ContactConnection {{ {spreads} }}"));
        }
        q.push_str(" fragment f10 on ContactConnection { totalCount }");
        let started = std::time::Instant::now();
        assert_eq!(cost(&q, serde_json::json!({})), usize::MAX);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
