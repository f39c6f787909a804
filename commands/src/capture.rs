//! Chat messages into the timeline: a 📌 on a message pins it; with `capture_chat` on,
//! everything said in an incident channel is recorded too.

use bot_core::model::Role;
use bot_core::ops::CapturedMessage;

use crate::{Ctx, Failure, Outcome, Reply};

/// How the timeline names the author: their Tocsin user if linked, else the platform id.
async fn author_label(ctx: &Ctx<'_>, author: &str) -> Result<String, Failure> {
    let platform = &ctx.invocation.platform;
    Ok(
        match ctx
            .core
            .store
            .user_by_chat_identity(platform, author)
            .await?
        {
            Some(user) => format!("user:{}", user.id),
            None => format!("{platform}:{author}"),
        },
    )
}

pub(crate) async fn pin(ctx: &Ctx<'_>, message_id: &str, author: &str, text: &str) -> Outcome {
    let Some(incident) = &ctx.here else {
        return Err(Failure::Refused(
            "only messages in an incident channel can be pinned to a timeline".into(),
        ));
    };
    ctx.require(Role::Responder, "pinning a message to the timeline")?;
    let captured = ctx
        .core
        .capture_message(
            incident.id,
            CapturedMessage {
                platform: ctx.invocation.platform.clone(),
                message_id: message_id.to_owned(),
                author: author_label(ctx, author).await?,
                text: text.to_owned(),
                captured_by: ctx.actor_label.clone(),
                pinned: true,
            },
        )
        .await?;
    Ok(Reply::ephemeral(match captured {
        Some(_) => format!("Pinned to the timeline of {}.", incident.reference()),
        None => format!("Already in the timeline of {}.", incident.reference()),
    }))
}

pub(crate) async fn said(ctx: &Ctx<'_>, message_id: &str, text: &str) -> Outcome {
    let (Some(incident), true) = (&ctx.here, ctx.core.settings.capture_chat) else {
        return Ok(Reply::silent());
    };
    if text.trim().is_empty() {
        return Ok(Reply::silent());
    }
    ctx.core
        .capture_message(
            incident.id,
            CapturedMessage {
                platform: ctx.invocation.platform.clone(),
                message_id: message_id.to_owned(),
                author: author_label(ctx, &ctx.invocation.user).await?,
                text: text.to_owned(),
                captured_by: "system".into(),
                pinned: false,
            },
        )
        .await?;
    Ok(Reply::silent())
}
