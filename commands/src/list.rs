//! `/incident list [all]`: open incidents, newest first (or the latest 20 of any status).

use bot_core::chat::{Field, Message};
use bot_core::model::IncidentFilter;

use crate::{Audience, Ctx, Failure, Outcome, Reply};

#[derive(Debug, PartialEq)]
pub(crate) struct List {
    all: bool,
}

impl List {
    pub const USAGE: &'static str = "/incident list [all]";
    pub const SUMMARY: &'static str = "list open incidents (or, with `all`, the latest 20)";
    const LIMIT: i64 = 20;

    pub fn parse(args: &str) -> Result<Self, Failure> {
        match args.trim() {
            "" => Ok(List { all: false }),
            "all" => Ok(List { all: true }),
            _ => Err(Failure::Usage(Self::USAGE.into())),
        }
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let filter = IncidentFilter {
            open_only: !self.all,
            limit: Self::LIMIT,
            ..Default::default()
        };
        let incidents = ctx.core.store.list_incidents(&filter).await?;
        if incidents.is_empty() {
            let none = if self.all {
                "No incidents yet."
            } else {
                "No open incidents."
            };
            return Ok(Reply::ephemeral(none));
        }
        let fields = incidents
            .iter()
            .map(|i| Field {
                label: format!("{} [{}] {}", i.reference(), i.severity, i.status),
                value: i.title.clone(),
            })
            .collect();
        let title = if self.all {
            "Latest incidents"
        } else {
            "Open incidents"
        };
        Ok(Reply::card(
            Audience::Ephemeral,
            Message {
                title: Some(title.into()),
                fields,
                ..Default::default()
            },
        ))
    }
}
