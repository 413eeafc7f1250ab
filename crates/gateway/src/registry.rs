//! The resources of the API, each declared once: its REST endpoints (routes and OpenAPI
//! entries), its embeddable relations (`include=`), its GraphQL node, connection, queries and
//! mutations (relations and nested connections through the request's loaders, which are made
//! on first use), and its entry in [`RESOURCES`] (what the parity tests walk).
//!
//! A new resource on `crm_records` is one entry here: its record type, its collection, its OpenAPI
//! tag and what it relates to. Names follow from the record and the collection
//! (`crm_derive::resource!`): `/accounts`, `list_accounts`, `AccountNode`, `createAccount`, …;
//! its `…Input`, `…Patch` and `…Id` types are named after the record.

use crm_accounts::{Account, AccountInput, AccountPatch};
use crm_automation::{AutomationRule, AutomationRuleInput, AutomationRulePatch};
use crm_campaigns::{
    Campaign, CampaignInput, CampaignPatch, EmailTemplate, EmailTemplateInput, EmailTemplatePatch, Segment,
    SegmentInput, SegmentPatch,
};
use crm_cases::{Case, CaseInput, CasePatch};
use crm_contacts::{Consent, ConsentInput, ConsentPatch, Contact, ContactInput, ContactPatch};
use crm_core::ids::{
    AccountId, ActivityId, ApiKeyId, AutomationRuleId, CampaignId, CaseId, CommentId, ConsentId, ContactId,
    CustomFieldId, EmailTemplateId, InteractionId, LeadId, LegalHoldId, OpportunityId, PipelineId, ProductId,
    PurchaseId, QuotaId, RetentionPolicyId, SegmentId, ShareId, SharingRuleId, TargetListId, UserId, WebhookId,
};
use crm_interactions::{Interaction, InteractionInput, InteractionPatch};
use crm_privacy::{
    LegalHold, LegalHoldInput, LegalHoldPatch, RetentionPolicy, RetentionPolicyInput, RetentionPolicyPatch,
};
use crm_products::{Product, ProductInput, ProductPatch, Purchase, PurchaseInput, PurchasePatch};
use crm_records::custom::{CustomField, CustomFieldInput, CustomFieldPatch};
use crm_sales::{
    Activity, ActivityInput, ActivityPatch, Assessment, Coverage, Lead, LeadInput, LeadPatch, Opportunity,
    OpportunityInput, OpportunityPatch, Pipeline, PipelineInput, PipelinePatch, Quota, QuotaInput, QuotaPatch, Stage,
    StageVisit, TargetList, TargetListInput, TargetListPatch,
};
use crm_users::{
    ApiKey, ApiKeyInput, ApiKeyPatch, Share, ShareInput, SharePatch, SharingRule, SharingRuleInput, SharingRulePatch,
    User, UserInput, UserPatch,
};
use crm_webhooks::{Webhook, WebhookInput, WebhookPatch};

use crate::graphql::loaders::{load_many, load_one, loaders};
use crate::graphql::operational::{
    CaseCommentConnection, CommentsKey, CommentsLoader, LineItemNode, TimelineConnection,
};
use crate::graphql::sales::AssessmentLoader;
use crate::graphql::{gql, rc};
#[allow(unused_imports)] // named by the REST shapes that embed children (utoipa names generics bare)
use crate::rest::record::Included;

/// What the registry knows of a resource.
#[derive(Clone, Copy, Debug)]
pub struct Resource {
    /// The entity name (`contact`).
    pub entity: &'static str,
    /// The REST collection under `/api/v1` (`/contacts`).
    pub collection: &'static str,
    /// The GraphQL field of one record and of the list (snake case: `contact`, `contacts`).
    pub graphql_one: &'static str,
    pub graphql_many: &'static str,
    /// What `include=` embeds.
    pub includable: &'static [&'static str],
    /// What its lists filter and sort on.
    pub catalog: fn() -> &'static crm_core::filter::Catalog,
    /// Its records as automation rules read and write them.
    pub automation: fn() -> crm_automation::Target,
}

/// The list catalog of an entity's records (`contact` → the contacts'), for webhook filters.
pub fn catalog_of(entity: &str) -> Option<&'static crm_core::filter::Catalog> {
    RESOURCES.iter().find(|r| r.entity == entity).map(|r| (r.catalog)())
}

/// An entity's records as automation rules act on them (`contact` → the contacts'), among
/// those rules may name (`crm_automation::target::ENTITIES`).
pub fn target_of(entity: &str) -> Option<crm_automation::Target> {
    if !crm_automation::target::ENTITIES.contains(&entity) {
        return None;
    }
    RESOURCES.iter().find(|r| r.entity == entity).map(|r| (r.automation)())
}

/// One resource's API (called by `crm_derive::resource!` with the names).
macro_rules! resource_api {
    (
        names {
            record: $T:ident, module: $m:ident, input: $Input:ident, patch: $Patch:ident, id: $Id:ident, resource: $Res:ident,
            paths: $collection:literal, $item:literal, $restore:literal, $batch:literal, $by_ext:literal, $history:literal;
            rest: $list:ident, $get:ident, $create:ident, $update:ident, $archive:ident, $restore_fn:ident,
                $batch_fn:ident, $get_ext:ident, $upsert:ident, $history_fn:ident;
            rest_types: $ListT:ident, $BO:ident, $BR:ident;
            graphql: $Node:ident as $gql:literal, $Conn:ident, $Up:ident, $BOp:ident, $UpdOp:ident, $UpsOp:ident, $DelOp:ident;
            query: $Query:ident { $one:ident, $many:ident, $by_ext_q:ident };
            mutation: $Mutation:ident { $c:ident, $u:ident, $a:ident, $r:ident, $up:ident, $b:ident };
        }
        {
            $(#[$doc:meta])*
            tag: $tag:literal,
            $(list_query: $LQ:ty,)?
            relations { $($rel:tt)* },
            children { $($child:tt)* },
            fields { $($extra:tt)* } $(,)?
        }
    ) => {
        pub mod $m {
            #![allow(unused_imports)]
            use super::*;
            use actix_web::{delete, get, patch, post, put};

            /// The list parameters of this resource.
            type Listing = resource_api!(@list_query $($LQ)?);

            resource_api!(@rest $T $Res { $($rel)* } children { $($child)* } {
                tag: $tag,
                input: $Input, patch: $Patch, id: $Id,
                collection: $collection, item: $item, list type $ListT, query: Listing,
                fns: $list, $get, $create, $update, $archive, $restore_fn;
                restore: $restore,
                batch: $batch_fn at $batch, doc types $BO, $BR;
                by_external_id: $get_ext, $upsert at $by_ext;
                history: $history_fn at $history;
            });

            crate::record_graphql! {
                $(#[$doc])*
                record: $T, id: $Id, input: $Input, patch: $Patch,
                node: $Node as $gql, connection: $Conn, upsert_result: $Up,
                batch_op: $BOp($UpdOp, $UpsOp, $DelOp),
                query: $Query { $one, $many, $by_ext_q },
                mutation: $Mutation { $c, $u, $a, $r, $up, $b },
                relations { $($rel)* },
                children { $($child)* },
                fields { $($extra)* }
            }

            pub type Query = $Query;
            pub type Mutation = $Mutation;

            pub const RESOURCE: super::Resource = super::Resource {
                entity: <$T as crm_records::Record>::ENTITY,
                collection: $collection,
                graphql_one: stringify!($one),
                graphql_many: stringify!($many),
                includable: <$T as crate::rest::record::Embed>::INCLUDABLE,
                catalog: <$T as crm_records::Stored>::catalog,
                automation: crm_automation::Target::of::<$T>,
            };

            /// Mounts the resource's routes for the OpenAPI document (integrator endpoints
            /// first: `/{id}` must not take `batch`).
            pub fn mount_doc<S>(s: utoipa_actix_web::scope::Scope<S>) -> utoipa_actix_web::scope::Scope<S>
            where
                S: actix_web::dev::ServiceFactory<
                        actix_web::dev::ServiceRequest,
                        Config = (),
                        Error = actix_web::Error,
                        InitError = (),
                    >,
            {
                s.service($batch_fn).service($get_ext).service($upsert).service($history_fn).service($list)
                    .service($create).service($get).service($update).service($archive).service($restore_fn)
            }

            /// The same routes on a server worker's app.
            pub fn mount_plain<S>(s: actix_web::Scope<S>) -> actix_web::Scope<S>
            where
                S: actix_web::dev::ServiceFactory<
                        actix_web::dev::ServiceRequest,
                        Config = (),
                        Error = actix_web::Error,
                        InitError = (),
                    >,
            {
                s.service($batch_fn).service($get_ext).service($upsert).service($history_fn).service($list)
                    .service($create).service($get).service($update).service($archive).service($restore_fn)
            }
        }
    };
    (@list_query) => { crate::rest::ListQuery };
    (@list_query $LQ:ty) => { $LQ };
    // A resource without to-one relations is its own REST shape.
    (@rest $T:ident $Res:ident { } children { } { tag: $tag:literal, $($args:tt)* }) => {
        crate::embeds!($T);
        crate::record_endpoints! { tag: $tag, record: $T, resource: $T, $($args)* }
    };
    (@rest $T:ident $Res:ident { $($rel:tt)+ } children { $($child:tt)* } { tag: $tag:literal, $($args:tt)* }) => {
        crate::embeds!($T as $Res { $($rel)+ } children { $($child)* });
        crate::record_endpoints! { tag: $tag, record: $T, resource: $Res, $($args)* }
    };
}

/// What every resource's module adds up to: mounting, the GraphQL roots, the list.
macro_rules! resource_registry {
    ($($m:ident),* $(,)?) => {
        /// Every resource's routes, for the OpenAPI document.
        pub fn mount_doc<S>(s: utoipa_actix_web::scope::Scope<S>) -> utoipa_actix_web::scope::Scope<S>
        where
            S: actix_web::dev::ServiceFactory<
                    actix_web::dev::ServiceRequest,
                    Config = (),
                    Error = actix_web::Error,
                    InitError = (),
                >,
        {
            $( let s = $m::mount_doc(s); )*
            s
        }

        /// Every resource's routes, on a server worker's app.
        pub fn mount_plain<S>(s: actix_web::Scope<S>) -> actix_web::Scope<S>
        where
            S: actix_web::dev::ServiceFactory<
                    actix_web::dev::ServiceRequest,
                    Config = (),
                    Error = actix_web::Error,
                    InitError = (),
                >,
        {
            $( let s = $m::mount_plain(s); )*
            s
        }

        /// Every resource's GraphQL queries.
        #[derive(async_graphql::MergedObject, Default)]
        pub struct ResourcesQuery($($m::Query),*);

        /// Every resource's GraphQL mutations.
        #[derive(async_graphql::MergedObject, Default)]
        pub struct ResourcesMutation($($m::Mutation),*);

        /// Every resource, in the order of the registry.
        pub const RESOURCES: &[Resource] = &[$($m::RESOURCE),*];
    };
}

crm_derive::resources! {
    resource_api, resource_registry;

    Account "accounts" {
        /// A company or organisation.
        tag: "accounts",
        list_query: crate::rest::geo::LocatedListQuery,
        relations {
            /// The record owner.
            owner(owner_id): User,
        },
        children {
            /// Live contacts at this account (newest first unless `orderBy` says otherwise).
            contacts("account_id"): Contact,
            /// Its deals (newest first unless `orderBy` says otherwise).
            opportunities("account_id"): Opportunity,
            /// Its support cases.
            cases("account_id"): Case,
            /// Its contact history: calls, emails, meetings, notes, ….
            interactions("account_id"): Interaction,
            /// Activities (tasks, calls, meetings) about it.
            activities("account_id"): Activity,
            /// Its purchases.
            purchases("account_id"): Purchase,
        },
        fields {
            /// This record's custom fields, typed (present once an administrator defined some;
            /// `customFields` holds them as stored).
            async fn custom(&self) -> crate::graphql::custom::CustomValues<Account> {
                crate::graphql::custom::CustomValues::new(&self.inner.custom_fields)
            }

            /// Interactions, cases, purchases and changes, newest first.
            async fn timeline(
                &self,
                ctx: &async_graphql::Context<'_>,
                kinds: Option<Vec<crm_timeline::TimelineKind>>,
                #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i32,
                after: Option<String>,
            ) -> async_graphql::Result<TimelineConnection> {
                let subject = crm_timeline::Subject::Account(self.inner.id);
                crate::graphql::operational::timeline(ctx, subject, kinds, first, after).await
            }

            /// Open cases, last contact, purchases and products owned at a glance.
            async fn summary(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<crm_timeline::CustomerSummary> {
                crate::graphql::operational::summary(ctx, crm_timeline::Subject::Account(self.inner.id)).await
            }
        },
    },

    Contact "contacts" {
        /// A person.
        tag: "contacts",
        list_query: crate::rest::geo::LocatedListQuery,
        relations {
            /// The account this person works at.
            account(account_id): Account,
            /// The record owner.
            owner(owner_id): User,
        },
        children {
            /// The deals this person is the contact of.
            opportunities("contact_id"): Opportunity,
            /// The support cases this person raised.
            cases("contact_id"): Case,
            /// The contact history this person took part in (calls, emails, meetings, …;
            /// newest first unless `orderBy` says otherwise).
            interactions("contacts"): Interaction,
            /// Activities (tasks, calls, meetings) about this person.
            activities("contact_id"): Activity,
            /// This person's purchases.
            purchases("contact_id"): Purchase,
            /// What this person agreed to, or withdrew, per purpose and channel.
            consents("contact_id"): Consent,
        },
        fields {
            /// This record's custom fields, typed (present once an administrator defined some;
            /// `customFields` holds them as stored).
            async fn custom(&self) -> crate::graphql::custom::CustomValues<Contact> {
                crate::graphql::custom::CustomValues::new(&self.inner.custom_fields)
            }

            /// Interactions, cases, purchases and changes, newest first.
            async fn timeline(
                &self,
                ctx: &async_graphql::Context<'_>,
                kinds: Option<Vec<crm_timeline::TimelineKind>>,
                #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i32,
                after: Option<String>,
            ) -> async_graphql::Result<TimelineConnection> {
                let subject = crm_timeline::Subject::Contact(self.inner.id);
                crate::graphql::operational::timeline(ctx, subject, kinds, first, after).await
            }

            /// Open cases, last contact, purchases and products owned at a glance.
            async fn summary(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<crm_timeline::CustomerSummary> {
                crate::graphql::operational::summary(ctx, crm_timeline::Subject::Contact(self.inner.id)).await
            }
        },
    },

    User "users" {
        /// A member of staff: record owner, interaction author, case assignee.
        tag: "users",
        relations {
            /// The user's manager.
            manager(manager_id): User,
        },
        children {},
        fields {},
    },

    SharingRule "sharing-rules" {
        /// How widely one resource's records are seen: public, team or private.
        tag: "sharing",
        relations {},
        children {},
        fields {},
    },

    Share "shares" {
        /// One record made visible to a user or a team beyond its resource's sharing level.
        tag: "sharing",
        relations {
            /// The user it is shared with.
            user(user_id): User,
            /// Who shared it.
            granted_by_user(granted_by): User,
        },
        children {},
        fields {},
    },

    Consent "consents" {
        /// What a contact or a lead agreed to, or withdrew, for one purpose (marketing, profiling, third-party sharing) on one channel or all; its history is the ledger.
        tag: "privacy",
        relations {
            /// The person, when a contact.
            contact(contact_id): Contact,
            /// The person, when a lead.
            lead(lead_id): Lead,
        },
        children {},
        fields {},
    },

    LegalHold "legal-holds" {
        /// A person's data kept for a legal reason (litigation, an audit): erasing the person is refused while the hold is live; archiving it releases it.
        tag: "privacy",
        relations {
            /// The person, when a contact.
            contact(contact_id): Contact,
            /// The person, when a lead.
            lead(lead_id): Lead,
        },
        children {},
        fields {},
    },

    RetentionPolicy "retention-policies" {
        /// Which records of a resource are archived or erased once nobody touched them for a number of days; enabled policies run daily, a dry run says what one would take.
        tag: "privacy",
        relations {},
        children {},
        fields {},
    },

    Interaction "interactions" {
        /// One entry of the contact history: a call, email, meeting, note, visit, SMS, chat or web visit.
        tag: "interactions",
        relations {
            /// The account (the first contact's unless given).
            account(account_id): Account,
            /// The user who logged it.
            author(author_id): User,
            /// The case it was about.
            case(case_id): Case,
        },
        children {},
        fields {
            /// The people involved, in the order given.
            async fn contacts(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<Vec<super::contacts::ContactNode>> {
                let found = load_many::<Contact>(ctx, &self.inner.contact_ids).await?;
                Ok(found.into_iter().map(super::contacts::ContactNode::from).collect())
            }
        },
    },

    Case "cases" {
        /// A support case: an inquiry, complaint, claim or ticket.
        tag: "cases",
        relations {
            /// The customer who raised it.
            contact(contact_id): Contact,
            /// The customer's account.
            account(account_id): Account,
            /// Who works on it.
            assignee(assignee_id): User,
        },
        children {},
        fields {
            /// This record's custom fields, typed (present once an administrator defined some;
            /// `customFields` holds them as stored).
            async fn custom(&self) -> crate::graphql::custom::CustomValues<Case> {
                crate::graphql::custom::CustomValues::new(&self.inner.custom_fields)
            }

            /// Comments, oldest first, `first` (1 to 1000) at a time; `after` takes `endCursor`
            /// (the same pages as REST `GET /cases/{id}/comments`).
            async fn comments(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(default = 100)] first: i32,
                after: Option<CommentId>,
            ) -> async_graphql::Result<CaseCommentConnection> {
                let limit = u32::try_from(first).unwrap_or(0);
                let key = CommentsKey::new(self.inner.id, after, limit);
                let page = loaders(ctx)?.get::<CommentsLoader>().load_one(key).await?;
                Ok(page.map(CaseCommentConnection::from).unwrap_or_default())
            }
        },
    },

    Product "products" {
        /// A product of the catalog.
        tag: "products",
        relations {},
        children {},
        fields {
            /// This record's custom fields, typed (present once an administrator defined some;
            /// `customFields` holds them as stored).
            async fn custom(&self) -> crate::graphql::custom::CustomValues<Product> {
                crate::graphql::custom::CustomValues::new(&self.inner.custom_fields)
            }
        },
    },

    Purchase "purchases" {
        /// An order a customer placed, with its priced lines.
        tag: "purchases",
        relations {
            /// The customer's account.
            account(account_id): Account,
            /// The customer who bought.
            contact(contact_id): Contact,
        },
        children {},
        fields {
            /// The lines with their products (one batch for all products).
            async fn items(&self) -> Vec<LineItemNode> {
                self.inner.lines.iter().cloned().map(|inner| LineItemNode { inner }).collect()
            }
        },
    },

    Lead "leads" {
        /// A prospect not yet qualified into an account and a contact.
        tag: "sales",
        list_query: crate::rest::geo::LocatedListQuery,
        relations {
            /// The record owner.
            owner(owner_id): User,
        },
        children {
            /// What this person agreed to, or withdrew, per purpose and channel (they move to
            /// the contact on conversion).
            consents("lead_id"): Consent,
        },
        fields {
            /// This record's custom fields, typed (present once an administrator defined some;
            /// `customFields` holds them as stored).
            async fn custom(&self) -> crate::graphql::custom::CustomValues<Lead> {
                crate::graphql::custom::CustomValues::new(&self.inner.custom_fields)
            }
        },
    },

    Pipeline "pipelines" {
        /// A sales pipeline and its stages.
        tag: "sales",
        relations {},
        children {},
        fields {},
    },

    Opportunity "opportunities" {
        /// A deal in a pipeline.
        tag: "sales",
        relations {
            /// The customer's account.
            account(account_id): Account,
            /// The customer's contact person.
            contact(contact_id): Contact,
            /// The record owner.
            owner(owner_id): User,
            /// The pipeline it is in.
            pipeline(pipeline_id): Pipeline,
        },
        children {},
        fields {
            /// This record's custom fields, typed (present once an administrator defined some;
            /// `customFields` holds them as stored).
            async fn custom(&self) -> crate::graphql::custom::CustomValues<Opportunity> {
                crate::graphql::custom::CustomValues::new(&self.inner.custom_fields)
            }

            /// The current stage.
            async fn stage(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<Stage>> {
                let p = load_one::<Pipeline>(ctx, Some(self.inner.pipeline_id)).await?;
                Ok(p.and_then(|p| p.stage(self.inner.stage_id).cloned()))
            }

            /// The stages it went through, oldest first.
            async fn stage_history(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Vec<StageVisit>> {
                let r = rc(ctx)?;
                let (actor, id) = (r.actor.clone(), self.inner.id);
                r.db.run(move |c| crm_sales::opportunities::stage_history(c, &actor, id)).await.map_err(gql)
            }

            /// Health: time in stage, close date, last interaction (batch-loaded).
            async fn assessment(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<Assessment>> {
                loaders(ctx)?.get::<AssessmentLoader>().load_one(self.inner.id).await
            }
        },
    },

    Activity "activities" {
        /// Scheduled work: a task, call, meeting or mailing.
        tag: "sales",
        list_query: crate::rest::activities::ActivityListQuery,
        relations {
            /// Who does it.
            assignee(assignee_id): User,
            /// The contact it is with.
            contact(contact_id): Contact,
            /// The account it is for.
            account(account_id): Account,
            /// The opportunity it works on.
            opportunity(opportunity_id): Opportunity,
        },
        children {},
        fields {},
    },

    TargetList "target-lists" {
        /// A target account list.
        tag: "sales",
        relations {},
        children {},
        fields {
            /// How the list is covered: its accounts' open and won deals in the period.
            async fn coverage(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Coverage> {
                let r = rc(ctx)?;
                let (actor, id) = (r.actor.clone(), self.inner.id);
                r.db.run(move |c| crm_sales::targets::coverage(c, &actor, id)).await.map_err(gql)
            }
        },
    },

    Quota "quotas" {
        /// A sales quota for a period.
        tag: "sales",
        relations {},
        children {},
        fields {},
    },

    Segment "segments" {
        /// A target group of contacts: a criterion, included and excluded segments; dynamic or snapshot.
        tag: "campaigns",
        relations {},
        children {},
        fields {
            /// The members now (a snapshot's, or the definition evaluated), in id order, `first`
            /// (1 to 1000) at a time; `after` takes `endCursor`.
            async fn members(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(default = 100, validator(minimum = 1, maximum = 1000))] first: i32,
                after: Option<ContactId>,
            ) -> async_graphql::Result<super::contacts::ContactConnection> {
                crate::graphql::campaigns::segment_members(ctx, self.inner.id, first, after).await
            }
        },
    },

    Campaign "campaigns" {
        /// A marketing campaign: type, channel, target segments, plan, costs and workflow.
        tag: "campaigns",
        relations {
            /// The record owner.
            owner(owner_id): User,
            /// The programme it is a wave of.
            parent(parent_id): Campaign,
            /// The template of its messages (an email campaign sent by this server).
            email_template(email_template_id): EmailTemplate,
        },
        children {
            /// Its waves (child campaigns).
            waves("parent_id"): Campaign,
        },
        fields {
            /// Its members in contact id order, optionally of one status, `first` (1 to 1000) at
            /// a time; `after` takes `endCursor`.
            async fn members(
                &self,
                ctx: &async_graphql::Context<'_>,
                status: Option<crm_campaigns::MemberStatus>,
                #[graphql(default = 100, validator(minimum = 1, maximum = 1000))] first: i32,
                after: Option<ContactId>,
            ) -> async_graphql::Result<crate::graphql::campaigns::MemberConnection> {
                crate::graphql::campaigns::campaign_members(ctx, self.inner.id, status, first, after).await
            }

            /// The review: per channel and in total, with the plan against the actual figures.
            async fn stats(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<crm_campaigns::CampaignStats> {
                let r = rc(ctx)?;
                let (actor, id) = (r.actor.clone(), self.inner.id);
                r.db.run(move |c| crm_campaigns::members::stats(c, &actor, id)).await.map_err(gql)
            }

            /// Its figures (and its waves') per day or week since launch.
            async fn trend(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(default_with = "crm_campaigns::review::Interval::Day")] interval: crm_campaigns::review::Interval,
            ) -> async_graphql::Result<crm_campaigns::review::CampaignTrend> {
                let r = rc(ctx)?;
                let (actor, id) = (r.actor.clone(), self.inner.id);
                r.db.run(move |c| crm_campaigns::review::trend(c, &actor, id, interval)).await.map_err(gql)
            }

            /// Its messages, when this server sends them (an email campaign with a template), in
            /// contact id order, optionally of one status, `first` (1 to 1000) at a time.
            async fn messages(
                &self,
                ctx: &async_graphql::Context<'_>,
                status: Option<crm_campaigns::SendStatus>,
                #[graphql(default = 100, validator(minimum = 1, maximum = 1000))] first: i32,
                after: Option<ContactId>,
            ) -> async_graphql::Result<crate::graphql::campaigns::MessageConnection> {
                crate::graphql::campaigns::campaign_messages(ctx, self.inner.id, status, first, after).await
            }

            /// How its sending stands: messages by status, pace and time left.
            async fn sending(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<crm_campaigns::SendProgress> {
                let r = rc(ctx)?;
                let (actor, id) = (r.actor.clone(), self.inner.id);
                r.db.run(move |c| crm_campaigns::sending::progress(c, &actor, id)).await.map_err(gql)
            }

            /// The target segments.
            async fn segments(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Vec<super::segments::SegmentNode>> {
                let found = load_many::<Segment>(ctx, &self.inner.segment_ids).await?;
                Ok(found.into_iter().map(super::segments::SegmentNode::from).collect())
            }
        },
    },

    EmailTemplate "email-templates" {
        /// An email template: subject, HTML and text parts with merge fields and tracked links.
        tag: "campaigns",
        relations {},
        children {},
        fields {
            /// The template rendered for a contact (and its account), or for sample values;
            /// links as written.
            async fn preview(
                &self,
                ctx: &async_graphql::Context<'_>,
                contact_id: Option<ContactId>,
            ) -> async_graphql::Result<crm_campaigns::TemplatePreview> {
                let r = rc(ctx)?;
                let (actor, id) = (r.actor.clone(), self.inner.id);
                r.db.run(move |c| crm_campaigns::templates::preview(c, &actor, id, contact_id)).await.map_err(gql)
            }
        },
    },

    CustomField "custom-fields" {
        /// The definition of a custom field: a typed field an administrator adds to a resource.
        tag: "schema",
        relations {},
        children {},
        fields {},
    },

    Webhook "webhooks" {
        /// A webhook subscription: where to POST which events, signed, at least once.
        tag: "webhooks",
        relations {},
        children {},
        fields {
            /// Its deliveries, newest event first, optionally of one state, `first` (1 to 1000)
            /// at a time; `before` takes `nextBefore`.
            async fn deliveries(
                &self,
                ctx: &async_graphql::Context<'_>,
                status: Option<crm_webhooks::DeliveryStatus>,
                #[graphql(default = 100, validator(minimum = 1, maximum = 1000))] first: i32,
                before: Option<i64>,
            ) -> async_graphql::Result<crm_webhooks::service::DeliveryPage> {
                crate::graphql::webhooks::deliveries(ctx, self.inner.id, status, first, before).await
            }
        },
    },

    AutomationRule "automation-rules" {
        /// An automation rule: on which records of a resource, when, under which conditions,
        /// what to do.
        tag: "automation",
        relations {},
        children {},
        fields {
            /// Its runs, newest first, optionally in one state, `first` (1 to 500) at a time;
            /// `before` takes `nextBefore`.
            async fn runs(
                &self,
                ctx: &async_graphql::Context<'_>,
                status: Option<crm_automation::RunStatus>,
                #[graphql(default = 100, validator(minimum = 1, maximum = 500))] first: i32,
                before: Option<uuid::Uuid>,
            ) -> async_graphql::Result<crm_automation::runs::RunPage> {
                crate::graphql::automation::runs(ctx, Some(self.inner.id), None, status, first, before).await
            }
        },
    },

    ApiKey "api-keys" {
        /// An API key for an integrator's script: its scopes, expiry, networks and rate limit.
        tag: "api-keys",
        relations {},
        children {},
        fields {},
    },
}
