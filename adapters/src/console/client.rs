//! The console as a `ChatPlatform`: rooms are incident channels, messages are printed to
//! the terminal, buttons become numbered choices.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;
use bot_core::chat::{ChatError, ChatPlatform, Message};
use bot_core::model::ChannelRef;

use super::render::render;

pub const PLATFORM: &str = "console";

#[derive(Default)]
struct Room {
    topic: String,
    members: Vec<String>,
}

#[derive(Default)]
struct State {
    rooms: BTreeMap<String, Room>,
    /// Button number -> (action, value), for every button printed so far.
    choices: Vec<(String, String)>,
    next_message: u64,
}

/// The terminal chat platform. Output goes to any writer (stdout in `tocsin console`).
pub struct Console {
    announcements: String,
    state: Mutex<State>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Console {
    pub fn new(announcements: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        let announcements = announcements.into();
        let mut state = State::default();
        state.rooms.insert(
            announcements.clone(),
            Room {
                topic: "Incident announcements".into(),
                members: Vec::new(),
            },
        );
        Console {
            announcements,
            state: Mutex::new(state),
            out: Mutex::new(out),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind, still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Prints a block of text, headed by the room it belongs to.
    pub fn print(&self, room: Option<&str>, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let block = match room {
            Some(room) => format!("\n#{room}\n{text}\n"),
            None => format!("{text}\n"),
        };
        // A closed terminal is not an error worth stopping the bot for.
        let _ = out.write_all(block.as_bytes()).and_then(|_| out.flush());
    }

    /// Prints a message, numbering its buttons; returns the text as printed.
    pub fn show(&self, room: Option<&str>, message: &Message) -> String {
        let text = {
            let mut state = self.state();
            let first = state.choices.len() + 1;
            state.choices.extend(
                message
                    .buttons
                    .iter()
                    .map(|b| (b.action.clone(), b.value.clone())),
            );
            render(message, first)
        };
        self.print(room, &text);
        text
    }

    /// The button a typed number stands for.
    pub fn choice(&self, number: usize) -> Option<(String, String)> {
        number
            .checked_sub(1)
            .and_then(|i| self.state().choices.get(i).cloned())
    }

    pub fn add_room(&self, name: &str, topic: &str) {
        self.state().rooms.entry(name.to_owned()).or_default().topic = topic.to_owned();
    }

    pub fn has_room(&self, name: &str) -> bool {
        self.state().rooms.contains_key(name)
    }

    /// Rooms with their topics, for `/rooms`.
    pub fn rooms(&self) -> Vec<(String, String)> {
        self.state()
            .rooms
            .iter()
            .map(|(n, r)| (n.clone(), r.topic.clone()))
            .collect()
    }

    pub fn announcements(&self) -> &str {
        &self.announcements
    }
}

#[async_trait]
impl ChatPlatform for Console {
    fn name(&self) -> &str {
        PLATFORM
    }

    fn announcements_channel(&self) -> Option<String> {
        Some(self.announcements.clone())
    }

    async fn post_message(&self, channel: &str, message: &Message) -> Result<String, ChatError> {
        // Rooms live in this process only: one from an earlier session is simply reopened.
        self.state().rooms.entry(channel.to_owned()).or_default();
        self.show(Some(channel), message);
        let mut state = self.state();
        state.next_message += 1;
        Ok(format!("m{}", state.next_message))
    }

    async fn update_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &Message,
    ) -> Result<(), ChatError> {
        let mut updated = message.clone();
        updated.context = Some(match &message.context {
            Some(c) => format!("{c} (updated {message_id})"),
            None => format!("(updated {message_id})"),
        });
        self.show(Some(channel), &updated);
        Ok(())
    }

    async fn create_channel(&self, name: &str, topic: &str) -> Result<ChannelRef, ChatError> {
        if !self.has_room(name) {
            self.add_room(name, topic);
            self.print(
                Some(name),
                &format!("Room opened. Topic: {topic}\n(type /join {name} to work in it)"),
            );
        }
        Ok(ChannelRef {
            platform: PLATFORM.into(),
            channel_id: name.into(),
            name: name.into(),
        })
    }

    async fn invite(&self, channel: &str, users: &[String]) -> Result<(), ChatError> {
        let mut state = self.state();
        let room = state.rooms.entry(channel.to_owned()).or_default();
        for user in users {
            if !room.members.contains(user) {
                room.members.push(user.clone());
            }
        }
        drop(state);
        self.print(Some(channel), &format!("Invited: {}", users.join(", ")));
        Ok(())
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), ChatError> {
        self.add_room(channel, topic);
        Ok(())
    }

    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), ChatError> {
        self.print(Some(channel), &format!("(pinned {message_id})"));
        Ok(())
    }

    async fn send_dm(&self, user: &str, message: &Message) -> Result<String, ChatError> {
        self.show(Some(&format!("@{user}")), message);
        let mut state = self.state();
        state.next_message += 1;
        Ok(format!("m{}", state.next_message))
    }
}
