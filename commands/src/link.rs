//! `/incident link`: ties a chat account to a Tocsin user at run time, for people the
//! configuration does not name on that platform.
//!
//! - `/incident link`, from the unknown account: a one-time code, shown only to them,
//!   valid for [`CODE_LIFETIME_MINUTES`] minutes.
//! - `/incident link CODE`, where Tocsin already knows them (another chat platform, the
//!   console): the account that asked for the code becomes theirs.
//! - `/incident link @member user-id`, by an admin: links a member of this platform
//!   directly.
//!
//! Proving the account on both sides is what keeps one person from claiming another's
//! name; a link lasts across restarts (`Store::link_chat_identity`).

use bot_core::model::{Role, UserId};

use crate::{Actor, Audience, Ctx, Failure, Outcome, Reply};

/// How long a code may be used.
pub const CODE_LIFETIME_MINUTES: i64 = 15;
/// Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;

#[derive(Debug, PartialEq)]
pub(crate) enum Link {
    /// Ask for a code for this account.
    Start,
    /// Use a code asked for elsewhere.
    Redeem(String),
    /// An admin links `member` (this platform) to `user`.
    Admin { member: String, user: String },
}

impl Link {
    pub const USAGE: &'static str = "/incident link [CODE | @member user-id]";
    pub const SUMMARY: &'static str = "link your chat account to your Tocsin user: ask for a code here, give it where Tocsin knows you";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let words: Vec<&str> = args.split_whitespace().collect();
        match words.as_slice() {
            [] => Ok(Link::Start),
            [code] => {
                let code = normalize(code);
                if code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b)) {
                    Ok(Link::Redeem(code))
                } else {
                    Err(Failure::Usage(Self::USAGE.into()))
                }
            }
            [member, user] => Ok(Link::Admin {
                member: bare_mention(member).to_owned(),
                user: (*user).to_owned(),
            }),
            _ => Err(Failure::Usage(Self::USAGE.into())),
        }
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        match self {
            Link::Start => start(ctx).await,
            Link::Redeem(code) => redeem(ctx, &code).await,
            Link::Admin { member, user } => admin(ctx, &member, &user).await,
        }
    }
}

/// `K7Q2-M9XD`, `k7q2m9xd` and `K7Q2 M9XD` are the same code.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `<@123>`, `<@!123>`, `<@U123|name>` and `@name` as the bare id.
fn bare_mention(mention: &str) -> &str {
    let bare = mention
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_start_matches('@')
        .trim_start_matches('!');
    bare.split_once('|').map_or(bare, |(id, _)| id)
}

/// A fresh code, from the random bits of a v4 UUID.
fn new_code() -> String {
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(CODE_LEN)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn private(text: String) -> Outcome {
    Ok(Reply::card(
        Audience::Ephemeral,
        bot_core::chat::Message::text(text),
    ))
}

async fn start(ctx: &Ctx<'_>) -> Outcome {
    let platform = &ctx.invocation.platform;
    if let Actor::User(id) = &ctx.actor {
        return private(format!(
            "Your {platform} account is already linked to {id}."
        ));
    }
    let expires_at = ctx.core.clock.now() + chrono::Duration::minutes(CODE_LIFETIME_MINUTES);
    // A clash with a live code is one in 31^8; asking again gets another.
    let code = new_code();
    ctx.core
        .store
        .create_link_code(&code, platform, &ctx.invocation.user, expires_at)
        .await?;
    tracing::info!(platform = %platform, "link code issued");
    private(format!(
        "To link this {platform} account to your Tocsin user, run `/incident link {code}` \
         where Tocsin already knows you (another chat platform, or `tocsin console`) within \
         {CODE_LIFETIME_MINUTES} minutes. An admin can also link you: \
         `/incident link @you your-user-id`."
    ))
}

async fn redeem(ctx: &Ctx<'_>, code: &str) -> Outcome {
    let Actor::User(user) = &ctx.actor else {
        return Err(Failure::Refused(format!(
            "give the code where Tocsin already knows you, not from this unlinked {} account",
            ctx.invocation.platform
        )));
    };
    let now = ctx.core.clock.now();
    let Some((platform, external_id)) = ctx.core.store.redeem_link_code(code, now).await? else {
        return Err(Failure::Refused(
            "that code is unknown, used or expired; ask for a new one with /incident link".into(),
        ));
    };
    link(ctx, &platform, &external_id, user).await?;
    tracing::info!(platform = %platform, user = %user, "chat account linked by code");
    private(format!("Linked: your {platform} account is now {user}."))
}

async fn admin(ctx: &Ctx<'_>, member: &str, user: &str) -> Outcome {
    ctx.require(Role::Admin, "linking someone else's chat account")?;
    let user = match ctx.core.store.get_user(&UserId::from(user)).await {
        Ok(found) => found.id,
        Err(bot_core::StoreError::NotFound(_)) => {
            return Err(Failure::Refused(format!(
                "no Tocsin user is called `{user}`"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let platform = ctx.invocation.platform.clone();
    link(ctx, &platform, member, &user).await?;
    tracing::info!(platform = %platform, user = %user, by = %ctx.actor_label, "chat account linked by an admin");
    Ok(Reply::card(
        Audience::Channel,
        bot_core::chat::Message::text(format!(
            "The {platform} account {member} is now linked to {user}."
        )),
    ))
}

/// Links, refusing what would take or change someone's identity.
async fn link(
    ctx: &Ctx<'_>,
    platform: &str,
    external_id: &str,
    user: &UserId,
) -> Result<(), Failure> {
    let store = &ctx.core.store;
    if let Some(owner) = store.user_by_chat_identity(platform, external_id).await? {
        if &owner.id == user {
            return Ok(());
        }
        return Err(Failure::Refused(format!(
            "that {platform} account is already linked to {}",
            owner.id
        )));
    }
    let found = store.get_user(user).await?;
    if let Some(existing) = found.chat.get(platform) {
        return Err(Failure::Refused(format!(
            "{user} already has a {platform} account ({existing}); change it in tocsin.toml"
        )));
    }
    store
        .link_chat_identity(platform, external_id, user, ctx.core.clock.now())
        .await
        .map_err(Failure::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_unambiguous_characters_read_back_however_written() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        assert_eq!(
            Link::parse(&code.to_lowercase()).unwrap(),
            Link::Redeem(code.clone())
        );
        let dashed = format!("{}-{}", &code[..4], &code[4..]);
        assert_eq!(Link::parse(&dashed).unwrap(), Link::Redeem(code));
        assert_ne!(new_code(), new_code());
    }

    #[test]
    fn an_admin_link_names_a_member_and_a_user() {
        assert_eq!(
            Link::parse("<@80351110224678912> carla").unwrap(),
            Link::Admin {
                member: "80351110224678912".into(),
                user: "carla".into()
            }
        );
        assert_eq!(Link::parse("").unwrap(), Link::Start);
        assert!(Link::parse("NOT-A-CODE-AT-ALL").is_err());
        assert!(Link::parse("a b c").is_err());
    }
}
