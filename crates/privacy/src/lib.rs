//! Privacy: the rights of the people whose data the CRM holds. Data-subject requests (access,
//! erasure, restriction of processing) run as jobs (`requests`), over the people a request
//! names (`people`); legal holds (`holds`) keep a person's data from erasure; retention policies
//! (`retention`) archive or erase what nobody touched for long. Consent records
//! live with contacts (`crm_contacts::consents`), restrictions too
//! (`crm_contacts::restrictions`), since campaigns and analyses consult them.

pub mod access;
pub mod erasure;
pub mod holds;
pub mod people;
pub mod requests;
pub mod retention;

pub use holds::{LegalHold, LegalHoldInput, LegalHoldPatch};
pub use requests::{PrivacyRequest, PrivacyRequestInput, RequestType};
pub use retention::{RetentionPolicy, RetentionPolicyInput, RetentionPolicyPatch};
