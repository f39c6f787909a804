//! `tocsin console`: the bot in a terminal, against the same store as `tocsin serve`. It
//! is a chat platform like the others (rooms for incident channels, cards with numbered
//! buttons), so a newcomer can try Tocsin without a Slack workspace.
//!
//! The console is one person's terminal: jobs for the `chat:console` queue are run by the
//! console process, and a card meant for the console waits in the queue until one runs.

mod client;
mod dialog;
mod inbound;
mod render;

use std::sync::Arc;

use bot_core::effects::ChatEffects;
use bot_core::escalation::PageByChat;
use bot_core::jobs::{Handlers, PoolConfig, WorkerPool};
use bot_core::model::IncidentFilter;
use bot_core::ops::{CORE_QUEUE, Core, chat_queue};
use bot_core::statuspage::subscribers::ChatNotices;
use commands::{Audience, Input, Invocation};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

pub use client::{Console, PLATFORM};
pub use inbound::{Line, parse};
pub use render::render;

const CONSOLE_HELP: &str = "Console: /rooms lists rooms, /join <room> switches, a number presses \
that button, /pin [text] pins the last thing said here (or the text) to the incident's timeline, \
/quit leaves. Anything else you type is said in the current room.";

/// Runs the console for the person whose console identity is `user` until `/quit` or end
/// of input. `core_handlers` are the core queue's job handlers, run here too so that a
/// console alone (without `tocsin serve`) is a whole Tocsin.
pub async fn run(
    core: Core,
    console: Arc<Console>,
    user: String,
    core_handlers: Handlers,
    input: impl AsyncBufRead + Unpin,
) -> Result<(), ConsoleError> {
    let store = core.store.clone();
    let open = IncidentFilter {
        open_only: true,
        limit: 100,
        ..Default::default()
    };
    for incident in store.list_incidents(&open).await? {
        for channel in incident.channels.iter().filter(|c| c.platform == PLATFORM) {
            console.add_room(
                &channel.channel_id,
                &format!("{} {}", incident.reference(), incident.title),
            );
        }
    }
    let handlers = ChatEffects::handlers(&core, console.clone())
        .merge(ChatNotices::handlers(&core, console.clone()))
        .merge(PageByChat::handlers(core.clone(), console.clone()))
        .merge(core_handlers);
    let pool = WorkerPool::new(
        store.clone(),
        core.clock.clone(),
        handlers,
        PoolConfig {
            queues: vec![chat_queue(PLATFORM), CORE_QUEUE.into()],
            ..Default::default()
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = tokio::spawn(pool.run(async {
        let _ = stopped.await;
    }));

    let mut room = console.announcements().to_owned();
    console.print(
        None,
        &format!("Tocsin console as {user}, in #{room}. {CONSOLE_HELP}"),
    );
    let mut lines = input.lines();
    // What was last said in each room, for /pin, with the id it was said under.
    let mut last_said: std::collections::HashMap<String, (String, String)> = Default::default();
    let mut said = 0u64;
    while let Some(line) = lines.next_line().await? {
        let input = match parse(&line) {
            Line::Empty => continue,
            Line::Quit => break,
            Line::Help => {
                console.print(None, &format!("{CONSOLE_HELP}\n{}", commands::help_text()));
                continue;
            }
            Line::Rooms => {
                let list: Vec<String> = console
                    .rooms()
                    .into_iter()
                    .map(|(name, topic)| {
                        let here = if name == room { "*" } else { " " };
                        format!("{here} #{name}  {topic}")
                    })
                    .collect();
                console.print(None, &list.join("\n"));
                continue;
            }
            Line::Join(name) => {
                if console.has_room(&name) {
                    room = name;
                    console.print(None, &format!("Now in #{room}."));
                } else {
                    console.print(None, &format!("No room #{name}; /rooms lists them."));
                }
                continue;
            }
            Line::Say(text) => {
                console.print(Some(&room), &format!("{user}: {text}"));
                said += 1;
                let message_id = format!("said-{said}");
                last_said.insert(room.clone(), (message_id.clone(), text.clone()));
                Input::Said { message_id, text }
            }
            Line::Pin(text) => {
                let (message_id, text) = match text {
                    Some(text) => {
                        said += 1;
                        (format!("said-{said}"), text)
                    }
                    None => match last_said.get(&room) {
                        Some(last) => last.clone(),
                        None => {
                            console.print(None, "Nothing has been said here yet to pin.");
                            continue;
                        }
                    },
                };
                Input::Pin {
                    message_id,
                    author: user.clone(),
                    text,
                }
            }
            Line::Choice(n) => match console.choice(n) {
                Some((action, value)) => Input::Button { action, value },
                None => {
                    console.print(None, &format!("There is no button [{n}]."));
                    continue;
                }
            },
            Line::Slash { command, text } => Input::Slash { command, text },
        };
        let mut invocation = Invocation {
            platform: PLATFORM.into(),
            user: user.clone(),
            channel: room.clone(),
            input,
            delivery: None,
            groups: Vec::new(),
        };
        let mut reply = commands::handle(&core, &invocation).await;
        if let Some(dialog) = reply.dialog.take() {
            // The console's dialog: one prompt per field, answered on the next lines.
            let Some(fields) = dialog::ask(&console, &dialog, &mut lines).await? else {
                console.print(None, "Cancelled.");
                continue;
            };
            invocation.input = Input::DialogSubmit {
                dialog: dialog.id,
                fields,
            };
            reply = commands::handle(&core, &invocation).await;
            for (field, error) in &reply.field_errors {
                console.print(None, &format!("  {field}: {error}"));
            }
        }
        if reply.silent {
            continue;
        }
        match reply.audience {
            Audience::Channel => console.show(Some(&room), &reply.message),
            Audience::Ephemeral => console.show(None, &reply.message),
        };
    }
    let _ = stop.send(());
    workers.await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("reading the terminal: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] bot_core::StoreError),
    #[error("console workers stopped abnormally: {0}")]
    Workers(#[from] tokio::task::JoinError),
}
