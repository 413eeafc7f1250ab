//! What a GraphQL document may cost, counted against the schema before it runs.
//!
//! A field costs 1 plus what it selects; a paged field (one with a `first` argument) costs 1
//! plus `first` times what one item selects, `first` read from the document, its variables, or
//! the argument's default; a field given lists (`ids`, `operations`) counts their items the same
//! way. Every alias and every fragment spread counts again. The figure is about the number of
//! values an answer can hold (and of records a mutation writes), so the limit bounds the work
//! and the size of an answer whatever the aliases and nesting (`MAX_COMPLEXITY`).
//!
//! The walk itself is bounded: one budget of selections for the whole document, a nesting
//! limit, and a fragment that spreads itself (directly or through others) is a cycle.

use std::cell::{Cell, RefCell};

use async_graphql::Variables;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::registry::{MetaTypeName, Registry};

/// Selections the walk visits at most, over the whole document. Fragments spread many times
/// into each other would make the walk itself exponential; past this budget the document is too
/// complex, whatever it selects.
const MAX_STEPS: usize = 100_000;

/// Fields and fragments nested at most this deep in the walk (the depth limit, 16, is checked
/// later by async-graphql; this only keeps the walk's own stack small).
const MAX_NESTING: usize = 64;

/// What the walk found.
#[derive(Debug, PartialEq, Eq)]
pub enum Cost {
    /// The cost of the dearest operation (the one that runs is named only later), saturating.
    Counted(usize),
    /// Too much to count: the budget or the nesting limit was reached.
    Unbounded,
    /// This fragment spreads itself.
    Cycle(String),
}

/// The document's cost.
pub fn document_cost(registry: &Registry, doc: &ExecutableDocument, variables: &Variables) -> Cost {
    let walk = Walk {
        registry,
        doc,
        variables,
        defaults: RefCell::new(Vec::new()),
        steps: Cell::new(0),
        unbounded: Cell::new(false),
        path: RefCell::new(Vec::new()),
        cycle: RefCell::new(None),
    };
    let mut dearest = 0usize;
    for (_, op) in doc.operations.iter() {
        let op = &op.node;
        let root = match op.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        *walk.defaults.borrow_mut() = op
            .variable_definitions
            .iter()
            .map(|v| (v.node.name.node.to_string(), v.node.default_value.as_ref().map(|d| d.node.clone())))
            .collect();
        let cost = root.map(|t| walk.selection_cost(t, &op.selection_set.node, 0)).unwrap_or(0);
        if let Some(name) = walk.cycle.borrow_mut().take() {
            return Cost::Cycle(name);
        }
        if walk.unbounded.get() {
            return Cost::Unbounded;
        }
        dearest = dearest.max(cost);
    }
    Cost::Counted(dearest)
}

struct Walk<'a> {
    registry: &'a Registry,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// The current operation's variable defaults.
    defaults: RefCell<Vec<(String, Option<async_graphql::Value>)>>,
    steps: Cell<usize>,
    unbounded: Cell<bool>,
    /// The fragments being expanded, outermost first.
    path: RefCell<Vec<String>>,
    cycle: RefCell<Option<String>>,
}

fn int_of(v: &async_graphql::Value) -> Option<i64> {
    match v {
        async_graphql::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// How many list items a value holds, lists inside objects and lists included.
fn list_items(v: &async_graphql::Value) -> usize {
    match v {
        async_graphql::Value::List(items) => items.iter().map(|i| 1usize.saturating_add(list_items(i))).sum(),
        async_graphql::Value::Object(fields) => fields.values().map(list_items).sum(),
        _ => 0,
    }
}

impl Walk<'_> {
    /// Whether the walk must stop: counts one step, and checks the budget and the nesting.
    fn exhausted(&self, depth: usize) -> bool {
        self.steps.set(self.steps.get() + 1);
        if self.steps.get() > MAX_STEPS || depth > MAX_NESTING {
            self.unbounded.set(true);
        }
        self.unbounded.get() || self.cycle.borrow().is_some()
    }

    fn selection_cost(&self, type_name: &str, set: &SelectionSet, depth: usize) -> usize {
        let mut total: usize = 0;
        for item in &set.items {
            if self.exhausted(depth) {
                return 0;
            }
            let cost = match &item.node {
                Selection::Field(f) => self.field_cost(type_name, &f.node, depth + 1),
                Selection::InlineFragment(frag) => {
                    let t = frag.node.type_condition.as_ref().map(|c| c.node.on.node.as_str()).unwrap_or(type_name);
                    self.selection_cost(t, &frag.node.selection_set.node, depth + 1)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.path.borrow().iter().any(|n| n == name) {
                        *self.cycle.borrow_mut() = Some(name.to_string());
                        return 0;
                    }
                    match self.doc.fragments.get(&spread.node.fragment_name.node) {
                        Some(def) => {
                            self.path.borrow_mut().push(name.to_string());
                            let c = self.selection_cost(
                                def.node.type_condition.node.on.node.as_str(),
                                &def.node.selection_set.node,
                                depth + 1,
                            );
                            self.path.borrow_mut().pop();
                            c
                        }
                        None => 0,
                    }
                }
            };
            total = total.saturating_add(cost);
        }
        total
    }

    /// An argument's value, variables resolved (their defaults when not given).
    fn resolve(&self, v: &async_graphql_value::Value) -> Option<async_graphql::Value> {
        match v {
            async_graphql_value::Value::Variable(name) => self.variables.get(name).cloned().or_else(|| {
                self.defaults.borrow().iter().find(|(n, _)| n == name.as_str()).and_then(|(_, d)| d.clone())
            }),
            other => other.clone().into_const_with(|name| self.variables.get(&name).cloned().ok_or(())).ok(),
        }
    }

    fn field_cost(&self, type_name: &str, field: &async_graphql::parser::types::Field, depth: usize) -> usize {
        let meta = self.registry.types.get(type_name).and_then(|t| t.field_by_name(&field.name.node));
        let Some(meta) = meta else {
            // `__typename`, or a field validation will refuse.
            return 1;
        };
        let child_type = MetaTypeName::concrete_typename(&meta.ty);
        let children = if field.selection_set.node.items.is_empty() {
            0
        } else {
            self.selection_cost(child_type, &field.selection_set.node, depth)
        };
        let first = meta.args.get("first").map(|arg| {
            let given = field.arguments.iter().find(|(n, _)| n.node == "first").map(|(_, v)| &v.node);
            let n = match given {
                Some(v) => self.resolve(v).as_ref().and_then(int_of),
                None => arg.default_value.as_deref().and_then(|d| d.parse().ok()),
            };
            usize::try_from(n.unwrap_or(1).max(1)).unwrap_or(usize::MAX)
        });
        let listed: usize =
            field.arguments.iter().filter_map(|(_, v)| self.resolve(&v.node)).map(|v| list_items(&v)).sum();
        let items = first.unwrap_or(0).saturating_add(listed);
        if first.is_none() && listed == 0 {
            children.saturating_add(1)
        } else {
            items.max(1).saturating_mul(children.max(1)).saturating_add(1)
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
            *self.0.lock().unwrap() = Some(match document_cost(&ctx.schema_env.registry, &doc, variables) {
                Cost::Counted(n) => n,
                Cost::Unbounded => usize::MAX,
                Cost::Cycle(_) => usize::MAX - 1,
            });
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
    fn list_arguments_count_their_items() {
        let q = "query($ids: [UUID!]!) { usersByIds(ids: $ids) { id name } }";
        let ids: Vec<String> = (0..10).map(|i| format!("00000000-0000-7000-8000-00000000000{i}")).collect();
        assert_eq!(cost(q, serde_json::json!({"ids": ids})), 1 + 10 * 2);
    }

    #[test]
    fn a_fragment_spreading_itself_through_a_field_is_a_cycle_not_a_crash() {
        let q = "{ ...f } fragment f on Query { contacts { nodes { id } ...g } } fragment g on ContactConnection { totalCount ...h } fragment h on ContactConnection { nodes { account { contacts { ...g } } } }";
        assert_eq!(cost(q, serde_json::json!({})), usize::MAX - 1);
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
