//! The authenticated caller and what it may do.

use std::collections::BTreeSet;
use std::fmt;

/// A permission. Wire form `resource:action`, e.g. `contacts:write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    AccountsRead,
    AccountsWrite,
    ContactsRead,
    ContactsWrite,
    /// Read the change feed (`/changes`); events are still limited to readable entities.
    ChangesRead,
    /// Staff records (`/users`); every role reads them, only admins write them.
    UsersRead,
    UsersWrite,
    /// The contact history: calls, emails, meetings, notes, visits.
    InteractionsRead,
    InteractionsWrite,
    /// Support cases and their comments.
    CasesRead,
    CasesWrite,
    /// The product catalog and purchases (products owned).
    ProductsRead,
    ProductsWrite,
    /// Sales-force automation: leads, pipelines, opportunities, activities, targets, quotas,
    /// forecasts and reports.
    SalesRead,
    SalesWrite,
    /// Campaign management: segments, campaigns, their members, costs and results.
    CampaignsRead,
    CampaignsWrite,
    /// Only creates leads through the web-form capture endpoint (for a token embedded in a
    /// website's backend).
    LeadsCapture,
    /// The definitions of custom fields (every role reads them: they describe the records).
    SchemaRead,
    /// Define, change and remove custom fields.
    SchemaWrite,
    /// Webhook subscriptions and their delivery log (they carry every change: admins).
    WebhooksRead,
    WebhooksWrite,
    /// The analyses of the customer base (RFM, value, predictions, drift, segments).
    AnalyticsRead,
    /// Refresh the analyses and change their settings.
    AnalyticsWrite,
    /// Send web activity (page views, downloads, form views) and identify visitors (for a
    /// website's backend).
    WebTrack,
    /// API keys: read (names, scopes, last use; never the keys themselves).
    ApiKeysRead,
    /// Create, change and revoke API keys (a key never gets a scope its creator lacks).
    ApiKeysWrite,
    /// Read `/metrics` (a scraper's API key carries only this).
    MetricsRead,
    /// Set how widely each resource's records are shared (`/sharing-rules`: admins).
    SharingWrite,
    /// Share a record one can see and write with a user or a team (`/shares`).
    SharesWrite,
    /// See what products cost the business: unit costs and the margins computed from them
    /// (without it, those fields are absent from every answer, export, event and history).
    ProductsCost,
    /// Read the audit log (`/audit`: who changed permissions, used keys, exported or deleted
    /// records; admins).
    AuditRead,
    /// Read privacy requests, processing restrictions and legal holds (`/privacy`: admins).
    PrivacyRead,
    /// Start privacy requests (access, erasure, restriction) and place or release legal holds
    /// (admins: a data-protection officer).
    PrivacyWrite,
    /// Read automation rules and their run log (admins).
    AutomationRead,
    /// Create, change, enable, dry-run and run automation rules (admins; a rule never acts with
    /// a scope its enabler lacks).
    AutomationWrite,
}

impl Scope {
    pub const ALL: [Scope; 36] = [
        Scope::AccountsRead,
        Scope::AccountsWrite,
        Scope::ContactsRead,
        Scope::ContactsWrite,
        Scope::ChangesRead,
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::InteractionsRead,
        Scope::InteractionsWrite,
        Scope::CasesRead,
        Scope::CasesWrite,
        Scope::ProductsRead,
        Scope::ProductsWrite,
        Scope::SalesRead,
        Scope::SalesWrite,
        Scope::CampaignsRead,
        Scope::CampaignsWrite,
        Scope::LeadsCapture,
        Scope::SchemaRead,
        Scope::SchemaWrite,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::AnalyticsRead,
        Scope::AnalyticsWrite,
        Scope::WebTrack,
        Scope::ApiKeysRead,
        Scope::ApiKeysWrite,
        Scope::MetricsRead,
        Scope::SharingWrite,
        Scope::SharesWrite,
        Scope::ProductsCost,
        Scope::AuditRead,
        Scope::PrivacyRead,
        Scope::PrivacyWrite,
        Scope::AutomationRead,
        Scope::AutomationWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AccountsRead => "accounts:read",
            Scope::AccountsWrite => "accounts:write",
            Scope::ContactsRead => "contacts:read",
            Scope::ContactsWrite => "contacts:write",
            Scope::ChangesRead => "changes:read",
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::InteractionsRead => "interactions:read",
            Scope::InteractionsWrite => "interactions:write",
            Scope::CasesRead => "cases:read",
            Scope::CasesWrite => "cases:write",
            Scope::ProductsRead => "products:read",
            Scope::ProductsWrite => "products:write",
            Scope::SalesRead => "sales:read",
            Scope::SalesWrite => "sales:write",
            Scope::CampaignsRead => "campaigns:read",
            Scope::CampaignsWrite => "campaigns:write",
            Scope::LeadsCapture => "leads:capture",
            Scope::SchemaRead => "schema:read",
            Scope::SchemaWrite => "schema:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::AnalyticsRead => "analytics:read",
            Scope::AnalyticsWrite => "analytics:write",
            Scope::WebTrack => "web:track",
            Scope::ApiKeysRead => "api_keys:read",
            Scope::ApiKeysWrite => "api_keys:write",
            Scope::MetricsRead => "metrics:read",
            Scope::SharingWrite => "sharing:write",
            Scope::SharesWrite => "shares:write",
            Scope::ProductsCost => "products:cost",
            Scope::AuditRead => "audit:read",
            Scope::PrivacyRead => "privacy:read",
            Scope::PrivacyWrite => "privacy:write",
            Scope::AutomationRead => "automation:read",
            Scope::AutomationWrite => "automation:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }

    /// The scope that reads a resource (by its list name, e.g. `accounts`), for filters that
    /// follow a relation into it.
    pub fn read_of(resource: &str) -> Option<Scope> {
        Some(match resource {
            "accounts" => Scope::AccountsRead,
            "contacts" | "consents" => Scope::ContactsRead,
            "users" => Scope::UsersRead,
            "interactions" => Scope::InteractionsRead,
            "cases" => Scope::CasesRead,
            "products" | "purchases" => Scope::ProductsRead,
            "leads" | "pipelines" | "opportunities" | "activities" | "target_lists" | "quotas" => Scope::SalesRead,
            "segments" | "campaigns" | "campaign_members" | "email_templates" => Scope::CampaignsRead,
            "custom_fields" => Scope::SchemaRead,
            "webhooks" => Scope::WebhooksRead,
            "automation_rules" => Scope::AutomationRead,
            "api_keys" => Scope::ApiKeysRead,
            "sharing_rules" | "shares" => Scope::UsersRead,
            "customer_analytics" => Scope::AnalyticsRead,
            "legal_holds" | "retention_policies" => Scope::PrivacyRead,
            _ => return None,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fields of an entity's records that only callers holding a scope see: elsewhere they are
/// absent from records, exports, change events and histories.
pub const CONCEALED: &[(&str, &str, Scope)] = &[("product", "unit_cost", Scope::ProductsCost)];

impl Actor {
    /// The fields of `entity` this caller may not see.
    pub fn concealed_fields<'a>(&'a self, entity: &'a str) -> impl Iterator<Item = &'static str> + 'a {
        CONCEALED.iter().filter(move |(e, _, s)| *e == entity && !self.has(*s)).map(|(_, f, _)| *f)
    }
}

/// A staff role; each maps to a fixed set of scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Admin,
    Sales,
    Marketing,
    Support,
    Readonly,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Sales, Role::Marketing, Role::Support, Role::Readonly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Sales => "sales",
            Role::Marketing => "marketing",
            Role::Support => "support",
            Role::Readonly => "readonly",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The scopes a role grants.
    pub fn scopes(self) -> &'static [Scope] {
        use Scope::*;
        // Every department reads the whole customer picture (one company to the customer) and
        // logs its own contact history; each writes what it owns.
        match self {
            Role::Admin => &Scope::ALL,
            // Sales owns the account and contact base.
            Role::Sales => &[
                AccountsRead,
                AccountsWrite,
                ContactsRead,
                ContactsWrite,
                UsersRead,
                InteractionsRead,
                InteractionsWrite,
                CasesRead,
                ProductsRead,
                SalesRead,
                SalesWrite,
                CampaignsRead,
                SchemaRead,
                AnalyticsRead,
                SharesWrite,
            ],
            // Marketing maintains people and runs the campaigns, and reads companies.
            Role::Marketing => &[
                AccountsRead,
                ContactsRead,
                ContactsWrite,
                UsersRead,
                InteractionsRead,
                InteractionsWrite,
                CasesRead,
                ProductsRead,
                SalesRead,
                SalesWrite,
                CampaignsRead,
                CampaignsWrite,
                SchemaRead,
                AnalyticsRead,
                AnalyticsWrite,
                WebTrack,
                SharesWrite,
            ],
            // Support maintains people and works the cases.
            Role::Support => &[
                AccountsRead,
                ContactsRead,
                ContactsWrite,
                UsersRead,
                InteractionsRead,
                InteractionsWrite,
                CasesRead,
                CasesWrite,
                ProductsRead,
                SalesRead,
                CampaignsRead,
                SchemaRead,
                AnalyticsRead,
                SharesWrite,
            ],
            Role::Readonly => &[
                AccountsRead,
                ContactsRead,
                UsersRead,
                InteractionsRead,
                CasesRead,
                ProductsRead,
                SalesRead,
                CampaignsRead,
                SchemaRead,
                AnalyticsRead,
            ],
        }
    }
}

/// Who is calling: the JWT subject, its roles and the scopes they grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub sub: String,
    pub roles: BTreeSet<Role>,
    pub scopes: BTreeSet<Scope>,
    /// The request id this call runs under, for the event log and error bodies.
    pub request_id: Option<String>,
    /// The W3C trace id of the call (`traceparent`), for the event log.
    pub trace_id: Option<String>,
    /// Name and email from the token, used when a user is created on first sight.
    pub name: Option<String>,
    pub email: Option<String>,
    /// Whether a subject without a user record gets one when it first writes (see `crm-users`).
    pub provision_user: bool,
    /// An integration (an API key) or the service itself: it acts for the organisation, not
    /// for a member of staff, so record visibility does not narrow what it sees (its scopes
    /// still do).
    pub integration: bool,
    /// The address the call came from (as the server trusts it: see `CRM_TRUSTED_PROXIES`),
    /// for the audit log.
    pub ip: Option<std::net::IpAddr>,
    /// The team the identity provider says the caller is in, when it manages teams
    /// (`CRM_OIDC_TEAM_CLAIM`): `Some(None)` is no team. The caller's user follows it.
    pub idp_team: Option<Option<String>>,
}

impl Actor {
    /// Builds an actor from role and scope names; unknown names grant nothing.
    pub fn new<'a>(
        sub: impl Into<String>,
        roles: impl IntoIterator<Item = &'a str>,
        scopes: impl IntoIterator<Item = &'a str>,
    ) -> Actor {
        let roles: BTreeSet<Role> = roles.into_iter().filter_map(Role::parse).collect();
        let mut granted: BTreeSet<Scope> = scopes.into_iter().filter_map(Scope::parse).collect();
        for r in &roles {
            granted.extend(r.scopes().iter().copied());
        }
        Actor {
            sub: sub.into(),
            roles,
            scopes: granted,
            request_id: None,
            trace_id: None,
            name: None,
            email: None,
            provision_user: false,
            integration: false,
            ip: None,
            idp_team: None,
        }
    }

    /// The service acting on its own account (a refresh, a reminder sweep) with `scopes`: like
    /// an integration, it sees every record those scopes reach.
    pub fn internal<'a>(sub: impl Into<String>, scopes: impl IntoIterator<Item = &'a str>) -> Actor {
        let mut actor = Actor::new(sub, [], scopes);
        actor.integration = true;
        actor
    }

    /// This caller, seeing every record its scopes reach: for the effects a use case has on
    /// records the caller did not name (a cancelled campaign's open calls, whoever they are
    /// assigned to), which must happen whoever owns them. The caller stays the actor of record.
    pub fn beyond_visibility(&self) -> Actor {
        let mut actor = self.clone();
        actor.integration = true;
        actor
    }

    /// An actor with every scope, for the CLI (`crm seed`) and tests.
    pub fn system() -> Actor {
        Actor::new("system", ["admin"], [])
    }

    pub fn with_request_id(mut self, id: impl Into<String>) -> Actor {
        self.request_id = Some(id.into());
        self
    }

    /// Whether record visibility (sharing levels, ownership, shares) is lifted for this caller:
    /// administrators and integrations see every record their scopes reach.
    pub fn sees_every_record(&self) -> bool {
        self.integration || self.roles.contains(&Role::Admin)
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Deny unless the actor holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Forbidden> {
        if self.has(scope) { Ok(()) } else { Err(Forbidden { missing: scope }) }
    }
}

/// The actor lacks a scope.
#[derive(Debug, Clone, thiserror::Error)]
#[error("this call needs the `{missing}` scope")]
pub struct Forbidden {
    pub missing: Scope,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_scopes_and_unknown_names_grant_nothing() {
        let a = Actor::new("u1", ["readonly", "wizard"], ["nonsense"]);
        assert!(a.has(Scope::ContactsRead));
        assert!(!a.has(Scope::ContactsWrite));
        assert!(a.require(Scope::AccountsWrite).is_err());
        let s = Actor::new("u2", [], ["contacts:write"]);
        assert!(s.has(Scope::ContactsWrite));
        assert!(!s.has(Scope::ContactsRead));
        assert!(Actor::system().has(Scope::AccountsWrite));
    }
}
