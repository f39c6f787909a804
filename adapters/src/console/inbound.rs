//! What a person types at the console: a slash command, a button number, a console
//! command (`/join`, `/rooms`, `/quit`), or chat text.

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Empty,
    Quit,
    Rooms,
    Join(String),
    Help,
    /// A button's number, as printed beside it.
    Choice(usize),
    /// `/pin [text]`: put the given text, or the last thing said in the room, into the
    /// incident's timeline (the console's 📌).
    Pin(Option<String>),
    Slash {
        command: String,
        text: String,
    },
    Say(String),
}

pub fn parse(line: &str) -> Line {
    let line = line.trim();
    if line.is_empty() {
        return Line::Empty;
    }
    if let Ok(n) = line.parse::<usize>() {
        return Line::Choice(n);
    }
    let Some(slash) = line.strip_prefix('/') else {
        return Line::Say(line.to_owned());
    };
    let (command, text) = slash.split_once(char::is_whitespace).unwrap_or((slash, ""));
    match command {
        "quit" | "exit" => Line::Quit,
        "rooms" => Line::Rooms,
        "help" => Line::Help,
        "join" => Line::Join(text.trim().trim_start_matches('#').to_owned()),
        "pin" => Line::Pin(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
        _ => Line::Slash {
            command: command.to_owned(),
            text: text.trim().to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_commands_choices_or_chat() {
        assert_eq!(
            parse("/incident declare sev2 Checkout slow"),
            Line::Slash {
                command: "incident".into(),
                text: "declare sev2 Checkout slow".into()
            }
        );
        assert_eq!(parse(" 3 "), Line::Choice(3));
        assert_eq!(parse("/join #inc-1-db"), Line::Join("inc-1-db".into()));
        assert_eq!(parse("/quit"), Line::Quit);
        assert_eq!(parse("/pin"), Line::Pin(None));
        assert_eq!(
            parse("/pin db is back"),
            Line::Pin(Some("db is back".into()))
        );
        assert_eq!(parse("looking at it"), Line::Say("looking at it".into()));
        assert_eq!(parse("   "), Line::Empty);
    }
}
