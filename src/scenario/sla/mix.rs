//! A mix of requests: the `[[sla.requests]]` entries, each a named request with a
//! weight, read into [`MixEntry`] and checked for names that are valid and unique. The
//! check's single request needs none of this; [`super::SlaCheck::mix`] presents both
//! alike to the engine.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::scenario::parse::is_valid_name;
use crate::scenario::request::{CheckRequest, Owner, Placed, split, table_value, tables};

use super::error::{Found, SlaError};

#[derive(Debug)]
pub(super) struct MixEntry {
    pub(super) weight: Spanned<f64>,
    pub(super) request: CheckRequest,
    /// Where the entry is written: its request's problems of the whole are placed here.
    pub(super) span: Range<usize>,
}

/// The keys of one `[[sla.requests]]` entry that are not its request's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySettings {
    weight: Spanned<f64>,
}

/// A weight at most, and the most the weights of a mix may add up to: the mix is a share,
/// and a million parts are finer than any run (and within the cycle the engine deals the
/// parts in, see `load::mix`).
pub(super) const MAX_WEIGHT: u64 = 1_000_000;

/// `[[sla.requests]]`: each entry a named request and its weight.
pub(super) fn mix_entries(value: Spanned<DeValue<'_>>) -> Result<Spanned<Vec<MixEntry>>, Placed> {
    let span = value.span();
    let owner = Owner {
        what: "a request of an sla mix",
        label: "mix keys",
        keys: &["weight"],
    };
    let entries = tables(value, "sla.requests", "a request of the mix")?;
    let entries = entries.into_iter().map(|(at, table)| {
        let parts = split(table, &owner)?;
        let settings = EntrySettings::deserialize(table_value(at.clone(), parts.own))?;
        Ok(MixEntry {
            weight: settings.weight,
            request: CheckRequest::from_table(at.clone(), parts.request, parts.is_model)?,
            span: at,
        })
    });
    Ok(Spanned::new(span, entries.collect::<Result<_, Placed>>()?))
}

/// Every name of the mix valid and used once.
pub(super) fn mix_names(entries: &[MixEntry]) -> Vec<Found> {
    let mut found = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let name = entry.request.name();
        if !is_valid_name(name.get_ref()) {
            found.push((
                SlaError::InvalidName(name.get_ref().clone()),
                Some(name.span()),
            ));
        }
        if entries[..i]
            .iter()
            .any(|earlier| earlier.request.name().get_ref() == name.get_ref())
        {
            found.push((
                SlaError::DuplicateName(name.get_ref().clone()),
                Some(name.span()),
            ));
        }
    }
    found
}
