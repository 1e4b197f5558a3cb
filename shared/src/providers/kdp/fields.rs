//! The columns of KDP's reports and their spellings (`docs/providers.md`, "Amazon KDP"): a header
//! cell is normalised ([`normalise`]), then looked up among each field's aliases ([`field`]).

/// A column the reader uses; others are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Date,
    Title,
    Author,
    AsinIsbn,
    Isbn,
    Asin,
    Marketplace,
    RoyaltyType,
    TransactionType,
    PayoutPlan,
    UnitsSold,
    UnitsRefunded,
    NetUnits,
    /// `Net Units Sold or KENP Read` (Total Earnings): units on a sale row, pages on a KENP row.
    NetUnitsOrKenp,
    KenpPages,
    ListPrice,
    OfferPrice,
    Royalty,
    Currency,
}

impl Field {
    /// The column's name in a rejected row's reason.
    pub fn name(self) -> &'static str {
        match self {
            Self::Date => "Royalty Date",
            Self::Title => "Title",
            Self::Author => "Author",
            Self::AsinIsbn | Self::Isbn | Self::Asin => "ASIN/ISBN",
            Self::Marketplace => "Marketplace",
            Self::RoyaltyType => "Royalty Type",
            Self::TransactionType => "Transaction Type",
            Self::PayoutPlan => "Payout Plan",
            Self::UnitsSold => "Units Sold",
            Self::UnitsRefunded => "Units Refunded",
            Self::NetUnits => "Net Units Sold",
            Self::NetUnitsOrKenp => "Net Units Sold or KENP Read",
            Self::KenpPages => "KENP Read",
            Self::ListPrice => "Avg. List Price without tax",
            Self::OfferPrice => "Avg. Offer Price without tax",
            Self::Royalty => "Royalty",
            Self::Currency => "Currency",
        }
    }
}

/// Every alias, normalised, and its field.
const ALIASES: &[(&str, Field)] = &[
    ("royalty date", Field::Date),
    ("date", Field::Date),
    ("sales date", Field::Date),
    ("order date", Field::Date),
    ("title", Field::Title),
    ("book title", Field::Title),
    ("author", Field::Author),
    ("author name", Field::Author),
    ("asin/isbn", Field::AsinIsbn),
    ("isbn/asin", Field::AsinIsbn),
    ("isbn", Field::Isbn),
    ("asin", Field::Asin),
    ("marketplace", Field::Marketplace),
    ("royalty type", Field::RoyaltyType),
    ("transaction type", Field::TransactionType),
    ("payout plan", Field::PayoutPlan),
    ("units sold", Field::UnitsSold),
    ("units refunded", Field::UnitsRefunded),
    ("net units sold", Field::NetUnits),
    ("net units sold or kenp read", Field::NetUnitsOrKenp),
    ("net units sold or combined kenp", Field::NetUnitsOrKenp),
    (
        "kindle edition normalized page (kenp) read",
        Field::KenpPages,
    ),
    (
        "kindle edition normalized pages (kenp) read",
        Field::KenpPages,
    ),
    (
        "kindle edition normalized pages (kenp) read from ku and koll",
        Field::KenpPages,
    ),
    (
        "kindle edition normalized page (kenp) read from ku and koll",
        Field::KenpPages,
    ),
    ("kenp read", Field::KenpPages),
    ("kenp pages read", Field::KenpPages),
    ("avg list price without tax", Field::ListPrice),
    ("avg list price", Field::ListPrice),
    ("list price", Field::ListPrice),
    ("avg offer price without tax", Field::OfferPrice),
    ("avg offer price", Field::OfferPrice),
    ("offer price", Field::OfferPrice),
    ("royalty", Field::Royalty),
    ("earnings", Field::Royalty),
    ("currency", Field::Currency),
];

/// Header text as the aliases are written: lower case, trailing `*` and `.` dropped (the
/// "Avg." abbreviation too), whitespace collapsed to one space and none around `/`.
pub fn normalise(text: &str) -> String {
    let lower = text.trim().trim_end_matches(['*', ' ']).to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect();
    words
        .join(" ")
        .replace('.', "")
        .replace(" /", "/")
        .replace("/ ", "/")
}

/// The field a header cell names, when it names one.
pub fn field(header_cell: &str) -> Option<Field> {
    let normalised = normalise(header_cell);
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == normalised)
        .map(|(_, field)| *field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_spellings_normalise_to_their_field() {
        let cases = [
            ("Royalty Date", Field::Date),
            ("  AUTHOR   NAME ", Field::Author),
            ("Author", Field::Author),
            ("ASIN / ISBN", Field::AsinIsbn),
            ("Net Units Sold or KENP Read**", Field::NetUnitsOrKenp),
            ("Net Units Sold or Combined KENP", Field::NetUnitsOrKenp),
            (
                "Kindle Edition Normalized Pages (KENP) Read from KU and KOLL",
                Field::KenpPages,
            ),
            (
                "Kindle Edition Normalized Page (KENP) Read",
                Field::KenpPages,
            ),
            ("Avg. Offer Price without tax*", Field::OfferPrice),
            ("Earnings", Field::Royalty),
        ];
        for (text, expected) in cases {
            assert_eq!(field(text), Some(expected), "{text}");
        }
        assert_eq!(field("Avg. File Size (MB)"), None);
        assert_eq!(field(""), None);
    }
}
