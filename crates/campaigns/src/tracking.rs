//! What recipients do with a campaign message, through the public links it carries: the open
//! pixel, tracked clicks, one-click unsubscribe (RFC 8058) and the web response form. No token
//! is needed to follow them, so each link carries a signed, tamper-evident one: the message's id,
//! what the link is for and (for a click) which of the message's links, under an HMAC-SHA256 of
//! a key the server makes on first use and keeps in its database (every instance shares it).
//! A token that does not verify changes nothing and reveals nothing (not found). A click
//! redirects only to the link the message held, never to a URL the token names.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crm_core::Actor;
use crm_core::ids::{CampaignId, ContactId};
use crm_db::schema::{campaign_sends, server_secrets};
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::RecordError;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::campaigns::{Campaign, CampaignStatus};
use crate::members::{MemberStatus, ResponseInput, ResponseType};

/// What a link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Open,
    Click,
    Unsubscribe,
    Respond,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Open => b'o',
            Kind::Click => b'c',
            Kind::Unsubscribe => b'u',
            Kind::Respond => b'r',
        }
    }

    /// The path segment of its public route (`/t/o/{token}`).
    pub fn path(self) -> &'static str {
        match self {
            Kind::Open => "o",
            Kind::Click => "c",
            Kind::Unsubscribe => "u",
            Kind::Respond => "r",
        }
    }
}

/// Bytes of the tag kept in a token (128 bits).
const TAG: usize = 16;

/// The server's tracking key.
pub struct Tokens(Vec<u8>);

impl Tokens {
    /// The key, made on first use (every instance reads the same row).
    pub fn load(conn: &mut AnyConnection) -> Result<Tokens, RecordError> {
        let name = "tracking";
        let found: Option<String> = server_secrets::table
            .filter(server_secrets::name.eq(name))
            .select(server_secrets::secret)
            .first(conn)
            .optional()?;
        let secret = match found {
            Some(s) => s,
            None => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                let row = (
                    server_secrets::name.eq(name),
                    server_secrets::secret.eq(URL_SAFE_NO_PAD.encode(key)),
                    server_secrets::created_at.eq(crm_db::now()),
                );
                // Two instances making it at once: the first row stays, both read it.
                match conn {
                    AnyConnection::Postgresql(c) => {
                        diesel::insert_into(server_secrets::table).values(row).on_conflict_do_nothing().execute(c)?
                    }
                    AnyConnection::Sqlite(c) => {
                        diesel::insert_into(server_secrets::table).values(row).on_conflict_do_nothing().execute(c)?
                    }
                };
                server_secrets::table
                    .filter(server_secrets::name.eq(name))
                    .select(server_secrets::secret)
                    .first(conn)?
            }
        };
        Ok(Tokens(URL_SAFE_NO_PAD.decode(secret).unwrap_or_default()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_mac())
    }

    /// The token of a link of a message.
    pub fn sign(&self, send: uuid::Uuid, kind: Kind, index: u16) -> String {
        let mut payload = Vec::with_capacity(19 + TAG);
        payload.extend_from_slice(send.as_bytes());
        payload.push(kind.byte());
        payload.extend_from_slice(&index.to_be_bytes());
        let mut mac = self.mac();
        mac.update(&payload);
        payload.extend_from_slice(&mac.finalize().into_bytes()[..TAG]);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The message and link index a token of `kind` names, when it verifies.
    pub fn verify(&self, token: &str, kind: Kind) -> Option<(uuid::Uuid, u16)> {
        if token.len() > 64 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != 19 + TAG || bytes[16] != kind.byte() {
            return None;
        }
        let (payload, tag) = bytes.split_at(19);
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_truncated_left(tag).ok()?;
        let send = uuid::Uuid::from_slice(&payload[..16]).ok()?;
        Some((send, u16::from_be_bytes([payload[17], payload[18]])))
    }
}

fn unreachable_mac() -> Hmac<Sha256> {
    // A fixed key: only reached if HMAC refused a key, which it never does.
    match Hmac::<Sha256>::new_from_slice(b"crm") {
        Ok(m) => m,
        Err(_) => std::process::abort(),
    }
}

/// The message a verified token names: its campaign, member and links.
struct Message {
    campaign: CampaignId,
    contact: ContactId,
    links: Vec<String>,
}

fn message(conn: &mut AnyConnection, token: &str, kind: Kind) -> Result<(Message, u16), RecordError> {
    let not_found = || RecordError::NotFound { entity: "link" };
    let tokens = Tokens::load(conn)?;
    let (send, index) = tokens.verify(token, kind).ok_or_else(not_found)?;
    let row: Option<(DbUuid, DbUuid, DbJson)> = campaign_sends::table
        .filter(campaign_sends::id.eq(DbUuid(send)))
        .select((campaign_sends::campaign_id, campaign_sends::contact_id, campaign_sends::links))
        .first(conn)
        .optional()?;
    let (campaign, contact, links) = row.ok_or_else(not_found)?;
    let links = serde_json::from_value(links.0).unwrap_or_default();
    Ok((Message { campaign: CampaignId(campaign.0), contact: ContactId(contact.0), links }, index))
}

/// Records a response of the member; a campaign that no longer takes responses (cancelled)
/// changes nothing, quietly: the recipient is not told about it.
fn record(
    conn: &mut AnyConnection,
    m: &Message,
    status: MemberStatus,
    response_type: Option<ResponseType>,
    note: Option<String>,
) -> Result<bool, RecordError> {
    let r = ResponseInput {
        contact_id: m.contact,
        status,
        response_type,
        bounce_kind: None,
        at: Some(to_utc(crm_db::now())),
        note,
    };
    match crate::members::record_responses(conn, &Actor::system(), m.campaign, vec![r]) {
        Ok(_) => Ok(true),
        Err(RecordError::Conflict { code: "CAMPAIGN_NOT_RUNNING", .. } | RecordError::Invalid { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The open pixel was loaded.
pub fn open(conn: &mut AnyConnection, token: &str) -> Result<(), RecordError> {
    let (m, _) = message(conn, token, Kind::Open)?;
    record(conn, &m, MemberStatus::Opened, None, None)?;
    Ok(())
}

/// A tracked link was followed: records the click and answers where it leads.
pub fn click(conn: &mut AnyConnection, token: &str) -> Result<String, RecordError> {
    let (m, index) = message(conn, token, Kind::Click)?;
    let url = m.links.get(usize::from(index)).cloned().ok_or(RecordError::NotFound { entity: "link" })?;
    record(conn, &m, MemberStatus::Clicked, None, None)?;
    Ok(url)
}

/// What an unsubscribe or response link leads to, for its page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub campaign_name: String,
}

/// The campaign a valid unsubscribe or response link belongs to (its page shows the name).
pub fn info(conn: &mut AnyConnection, token: &str, kind: Kind) -> Result<LinkInfo, RecordError> {
    let (m, _) = message(conn, token, kind)?;
    let c = crm_records::get::<Campaign>(conn, &Actor::system(), m.campaign)?;
    Ok(LinkInfo { campaign_name: c.name })
}

/// The recipient unsubscribed (the link's page, or a mail client's one-click POST). The consent
/// for the channel is withdrawn whatever state the campaign is in.
pub fn unsubscribe(conn: &mut AnyConnection, token: &str) -> Result<LinkInfo, RecordError> {
    let (m, _) = message(conn, token, Kind::Unsubscribe)?;
    let c = crm_records::get::<Campaign>(conn, &Actor::system(), m.campaign)?;
    let recorded = matches!(c.status, CampaignStatus::Running | CampaignStatus::Completed)
        && record(conn, &m, MemberStatus::Unsubscribed, None, None)?;
    if !recorded {
        crate::members::withdraw(conn, &Actor::system(), m.contact, c.channel)?;
    }
    Ok(LinkInfo { campaign_name: c.name })
}

/// The recipient answered through the web response form.
pub fn respond(
    conn: &mut AnyConnection,
    token: &str,
    response_type: ResponseType,
    note: Option<String>,
) -> Result<LinkInfo, RecordError> {
    let (m, _) = message(conn, token, Kind::Respond)?;
    let note = note.map(|n| n.chars().take(1000).collect::<String>()).filter(|n| !n.trim().is_empty());
    let c = crm_records::get::<Campaign>(conn, &Actor::system(), m.campaign)?;
    record(conn, &m, MemberStatus::Responded, Some(response_type), note)?;
    Ok(LinkInfo { campaign_name: c.name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_as_signed() {
        let t = Tokens(vec![7; 32]);
        let send = uuid::Uuid::now_v7();
        let tok = t.sign(send, Kind::Click, 3);
        assert_eq!(t.verify(&tok, Kind::Click), Some((send, 3)));
        assert_eq!(t.verify(&tok, Kind::Open), None, "a click token is not an open token");
        assert_eq!(Tokens(vec![8; 32]).verify(&tok, Kind::Click), None, "another key");
        // Any change to the token breaks it.
        let mut bytes = URL_SAFE_NO_PAD.decode(&tok).unwrap();
        for i in [0, 16, 17, 18, 20, 34] {
            bytes[i] ^= 1;
            assert_eq!(t.verify(&URL_SAFE_NO_PAD.encode(&bytes), Kind::Click), None, "byte {i}");
            bytes[i] ^= 1;
        }
        assert_eq!(t.verify("not-a-token", Kind::Click), None);
        assert_eq!(t.verify(&"A".repeat(100), Kind::Click), None);
    }
}
