//! KDP reports written the way KDP writes them, for tests, the benchmark and the local stack
//! (feature `kdp-fixtures`): title and blank rows above the header, trailing asterisks, the
//! columns' aliases, `N/A`, Excel dates and text dates, several marketplaces and currencies, a
//! totals row. [`xlsx`] and [`csv`] write any [`FixtureSheet`]s; the named reports below are the
//! formats of `docs/providers.md` ("Amazon KDP").

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// One cell of a fixture.
#[derive(Debug, Clone, PartialEq)]
pub enum F {
    T(String),
    N(f64),
    /// A date cell (XLSX: an Excel date formatted `yyyy-mm-dd`; CSV: `YYYY-MM-DD`).
    D(u16, u8, u8),
    E,
}

/// Text.
pub fn t(text: &str) -> F {
    F::T(text.to_owned())
}

/// A row of text cells.
pub fn texts(cells: &[&str]) -> Vec<F> {
    cells.iter().map(|c| t(c)).collect()
}

/// A sheet of a fixture workbook.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureSheet {
    pub name: String,
    pub rows: Vec<Vec<F>>,
}

impl FixtureSheet {
    pub fn new(name: &str, rows: Vec<Vec<F>>) -> Self {
        Self {
            name: name.to_owned(),
            rows,
        }
    }
}

/// An XLSX workbook of `sheets`.
///
/// # Errors
/// The writer's error, as text.
pub fn xlsx(sheets: &[FixtureSheet]) -> Result<Vec<u8>, String> {
    let mut workbook = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for sheet in sheets {
        let worksheet = workbook.add_worksheet();
        worksheet.set_name(&sheet.name).map_err(|e| e.to_string())?;
        for (r, row) in sheet.rows.iter().enumerate() {
            let r = u32::try_from(r).map_err(|e| e.to_string())?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).map_err(|e| e.to_string())?;
                match cell {
                    F::T(text) => worksheet.write_string(r, c, text).map(|_| ()),
                    F::N(number) => worksheet.write_number(r, c, *number).map(|_| ()),
                    F::D(y, m, d) => ExcelDateTime::from_ymd(*y, *m, *d).and_then(|day| {
                        worksheet
                            .write_datetime_with_format(r, c, day, &date)
                            .map(|_| ())
                    }),
                    F::E => Ok(()),
                }
                .map_err(|e| e.to_string())?;
            }
        }
    }
    workbook.save_to_buffer().map_err(|e| e.to_string())
}

/// A CSV file of `rows` with `delimiter`, after a UTF-8 byte-order mark (as spreadsheet programs
/// write it).
///
/// # Errors
/// The writer's error, as text.
pub fn csv(rows: &[Vec<F>], delimiter: u8) -> Result<Vec<u8>, String> {
    let mut writer = ::csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .map(|cell| match cell {
                F::T(text) => text.clone(),
                F::N(number) => number.to_string(),
                F::D(y, m, d) => format!("{y:04}-{m:02}-{d:02}"),
                F::E => String::new(),
            })
            .collect();
        if fields.is_empty() {
            writer.write_record([""]).map_err(|e| e.to_string())?;
        } else {
            writer.write_record(&fields).map_err(|e| e.to_string())?;
        }
    }
    writer.into_inner().map_err(|e| e.to_string())
}

/// The dashboard's "Combined Sales" header, with trailing asterisks as some exports write them.
pub fn combined_sales_header() -> Vec<F> {
    texts(&[
        "Royalty Date",
        "Title",
        "Author Name",
        "ASIN/ISBN",
        "Marketplace",
        "Royalty Type",
        "Transaction Type",
        "Units Sold",
        "Units Refunded",
        "Net Units Sold",
        "Avg. List Price without tax*",
        "Avg. Offer Price without tax*",
        "Avg. Delivery/Manufacturing cost",
        "Royalty",
        "Currency",
    ])
}

/// One "Combined Sales" row.
#[allow(clippy::too_many_arguments)]
pub fn combined_row(
    date: F,
    asin: &str,
    marketplace: &str,
    royalty_type: &str,
    transaction_type: &str,
    units: [f64; 3],
    prices: [F; 2],
    royalty: F,
    currency: &str,
) -> Vec<F> {
    let [price_list, price_offer] = prices;
    vec![
        date,
        t("The Book"),
        t("A. Writer"),
        t(asin),
        t(marketplace),
        t(royalty_type),
        t(transaction_type),
        F::N(units[0]),
        F::N(units[1]),
        F::N(units[2]),
        price_list,
        price_offer,
        t("N/A"),
        royalty,
        t(currency),
    ]
}

/// The dashboard export: "Combined Sales" (5 rows: ebook in USD and JPY, a refunded paperback in
/// EUR, a free promotion in GBP, a hardcover in USD; then a totals row) and "KENP Read" (2
/// rows), each under a title and a blank row.
pub fn dashboard() -> Vec<FixtureSheet> {
    let combined = vec![
        vec![t(
            "Sales Dashboard - Combined Sales - 2026-10-01 to 2026-10-31",
        )],
        vec![],
        combined_sales_header(),
        combined_row(
            F::D(2026, 10, 5),
            "B0BOOK0001",
            "Amazon.com",
            "70%",
            "Standard",
            [3.0, 0.0, 3.0],
            [F::N(4.99), F::N(4.99)],
            F::N(10.41),
            "USD",
        ),
        combined_row(
            t("2026-10-05"),
            "B0BOOK0001",
            "Amazon.co.jp",
            "70%",
            "Standard",
            [2.0, 0.0, 2.0],
            [F::N(500.0), F::N(500.0)],
            t("680"),
            "JPY",
        ),
        combined_row(
            t("2026-10-06"),
            "9781234567897",
            "Amazon.de",
            "60%",
            "Standard - Paperback",
            [1.0, 1.0, 0.0],
            [t("12.99"), t("12.99")],
            t("N/A"),
            "EUR",
        ),
        combined_row(
            t("2026-10-07"),
            "B0BOOK0001",
            "Amazon.co.uk",
            "35%",
            "Free - Promotion",
            [25.0, 0.0, 25.0],
            [t("N/A"), F::N(0.0)],
            F::N(0.0),
            "GBP",
        ),
        combined_row(
            F::D(2026, 10, 7),
            "9781234567880",
            "Amazon.com",
            "60%",
            "Standard - Hardcover",
            [1.0, 0.0, 1.0],
            [F::N(24.99), F::N(24.99)],
            F::N(8.49),
            "USD",
        ),
        vec![
            F::E,
            t("Total"),
            F::E,
            F::E,
            F::E,
            F::E,
            F::E,
            F::N(32.0),
            F::N(1.0),
            F::N(31.0),
        ],
    ];
    let kenp = vec![
        vec![t("KENP Read")],
        vec![],
        texts(&[
            "Date",
            "Title",
            "Author",
            "ASIN",
            "Marketplace",
            "Kindle Edition Normalized Pages (KENP) Read from KU and KOLL",
        ]),
        vec![
            t("2026-10-05"),
            t("The Book"),
            t("A. Writer"),
            t("B0BOOK0001"),
            t("Amazon.com"),
            F::N(1200.0),
        ],
        vec![
            F::D(2026, 10, 5),
            t("The Book"),
            t("A. Writer"),
            t("B0BOOK0001"),
            t("Amazon.de"),
            t("340"),
        ],
    ];
    vec![
        FixtureSheet::new("Summary", vec![vec![t("Your royalties at a glance")]]),
        FixtureSheet::new("Combined Sales", combined),
        FixtureSheet::new("KENP Read", kenp),
    ]
}

/// The file name KDP gives the Prior Month Royalties workbook of September 2026.
pub const PRIOR_MONTH_FILE: &str = "KDP_Prior_Month_Royalties-2026-09-01-abc123.xlsx";

/// The Prior Month Royalties workbook: "eBook Royalty" (USD, INR), "Paperback Royalty" (USD),
/// "Hardcover Royalty" (GBP), "KENP Read", and "Total Earnings", which restates them; no date
/// column, the month in the title rows ("September 2026").
pub fn prior_month() -> Vec<FixtureSheet> {
    let title = || vec![t("Prior Month Royalties - September 2026")];
    let ebook = vec![
        title(),
        vec![],
        texts(&[
            "Title",
            "Author",
            "ASIN",
            "Marketplace",
            "Units Sold",
            "Units Refunded",
            "Net Units Sold",
            "Royalty Type",
            "Transaction Type",
            "Currency",
            "Avg. List Price without tax",
            "Avg. Offer Price without tax",
            "Avg. File Size (MB)",
            "Avg. Delivery Cost",
            "Royalty",
        ]),
        ebook_row(
            "Amazon.com",
            [40.0, 2.0, 38.0],
            "USD",
            [4.99, 0.06],
            F::N(130.45),
        ),
        ebook_row(
            "Amazon.in",
            [3.0, 0.0, 3.0],
            "INR",
            [199.0, 2.0],
            t("410.20"),
        ),
    ];
    let print_header = || {
        texts(&[
            "Title",
            "Author",
            "ISBN",
            "Marketplace",
            "Units Sold",
            "Units Refunded",
            "Royalty Type",
            "Avg. List Price without tax",
            "Avg. Offer Price without tax",
            "Avg. Manufacturing Cost",
            "Royalty",
            "Currency",
            "ASIN",
        ])
    };
    let print_row = |isbn: &str, market: &str, units: f64, royalty: f64, currency: &str| {
        vec![
            t("The Book"),
            t("A. Writer"),
            t(isbn),
            t(market),
            F::N(units),
            F::N(0.0),
            t("60%"),
            F::N(12.99),
            F::N(12.99),
            F::N(3.1),
            F::N(royalty),
            t(currency),
            t("N/A"),
        ]
    };
    let paperback = vec![
        title(),
        vec![],
        print_header(),
        print_row("9781234567897", "Amazon.com", 5.0, 15.99, "USD"),
    ];
    let hardcover = vec![
        title(),
        print_header(),
        print_row("9781234567880", "Amazon.co.uk", 2.0, 13.58, "GBP"),
    ];
    let kenp = vec![
        title(),
        vec![],
        texts(&[
            "Title",
            "Author Name",
            "ASIN",
            "Marketplace",
            "Kindle Edition Normalized Page (KENP) Read",
        ]),
        vec![
            t("The Book"),
            t("A. Writer"),
            t("B0BOOK0001"),
            t("Amazon.com"),
            F::N(15000.0),
        ],
    ];
    vec![
        FixtureSheet::new("eBook Royalty", ebook),
        FixtureSheet::new("Paperback Royalty", paperback),
        FixtureSheet::new("Hardcover Royalty", hardcover),
        FixtureSheet::new("KENP Read", kenp),
        total_earnings(),
    ]
}

/// One "eBook Royalty" row: units sold, refunded and net; price (list and offer) and delivery
/// cost.
fn ebook_row(
    market: &str,
    units: [f64; 3],
    currency: &str,
    price_cost: [f64; 2],
    royalty: F,
) -> Vec<F> {
    vec![
        t("The Book"),
        t("A. Writer"),
        t("B0BOOK0001"),
        t(market),
        F::N(units[0]),
        F::N(units[1]),
        F::N(units[2]),
        t("70%"),
        t("Standard"),
        t(currency),
        F::N(price_cost[0]),
        F::N(price_cost[0]),
        F::N(1.2),
        F::N(price_cost[1]),
        royalty,
    ]
}

/// "Total Earnings" of September 2026: an eBook row and a KENP row (`Net Units Sold or KENP
/// Read**`, `Earnings`).
pub fn total_earnings() -> FixtureSheet {
    FixtureSheet::new(
        "Total Earnings",
        vec![
            vec![t("Prior Month Royalties - September 2026")],
            vec![],
            texts(&[
                "Title",
                "ASIN/ISBN",
                "Marketplace",
                "Units Sold",
                "Units Refunded",
                "Net Units Sold or KENP Read**",
                "Royalty Type",
                "Payout Plan",
                "Currency",
                "Earnings",
            ]),
            vec![
                t("The Book"),
                t("B0BOOK0001"),
                t("Amazon.com"),
                F::N(40.0),
                F::N(2.0),
                F::N(38.0),
                t("70%"),
                t("Standard"),
                t("USD"),
                F::N(130.45),
            ],
            vec![
                t("The Book"),
                t("B0BOOK0001"),
                t("Amazon.com"),
                t("N/A"),
                t("N/A"),
                F::N(15000.0),
                t("N/A"),
                t("KENP"),
                t("USD"),
                F::N(68.25),
            ],
        ],
    )
}

/// A CSV export (rows of November 2026): a title and a blank row, the header with `Author` and
/// `ASIN / ISBN`, an ebook in EUR, a paperback in AUD with `N/A` prices.
pub fn csv_export() -> Vec<Vec<F>> {
    let mut header = combined_sales_header();
    header[2] = t("Author");
    header[3] = t("ASIN / ISBN");
    vec![
        vec![t("KDP Sales Report")],
        vec![],
        header,
        combined_row(
            t("2026-11-02"),
            "B0BOOK0001",
            "Amazon.fr",
            "70%",
            "Standard",
            [4.0, 0.0, 4.0],
            [t("4.99"), t("4.99")],
            t("13.97"),
            "EUR",
        ),
        combined_row(
            t("2026-11-03"),
            "9781234567897",
            "Amazon.com.au",
            "60%",
            "Standard - Paperback",
            [2.0, 0.0, 2.0],
            [t("N/A"), t("N/A")],
            t("9.10"),
            "AUD",
        ),
    ]
}

/// "Combined Sales" with `good` rows and three bad ones after the first: a date that is not one
/// (row 5), no ASIN/ISBN (row 6) and a royalty that is not an amount (row 7), under a title and
/// a blank row (the header is row 3).
pub fn with_three_bad_rows(good: usize) -> FixtureSheet {
    let row = |day: u8, asin: &str, royalty: F| {
        combined_row(
            t(&format!("2026-10-{day:02}")),
            asin,
            "Amazon.com",
            "70%",
            "Standard",
            [1.0, 0.0, 1.0],
            [F::N(2.99), F::N(2.99)],
            royalty,
            "USD",
        )
    };
    let mut rows = vec![vec![t("Combined Sales")], vec![], combined_sales_header()];
    let goods: Vec<Vec<F>> = (0..good)
        .map(|n| {
            row(
                u8::try_from(n % 28 + 1).unwrap_or(1),
                "B0GOOD0001",
                F::N(2.09),
            )
        })
        .collect();
    let mut goods = goods.into_iter();
    rows.extend(goods.next());
    let mut bad_date = row(1, "B0BAD00001", F::N(2.09));
    bad_date[0] = t("the first of October");
    rows.push(bad_date);
    rows.push(row(2, "N/A", F::N(2.09)));
    rows.push(row(3, "B0BAD00003", t("two dollars")));
    rows.extend(goods);
    FixtureSheet::new("Combined Sales", rows)
}

/// "Combined Sales" with `rows` distinct rows (ASINs, days, marketplaces and currencies varied),
/// for the benchmark.
pub fn large(rows: usize) -> FixtureSheet {
    const MARKETS: [(&str, &str); 4] = [
        ("Amazon.com", "USD"),
        ("Amazon.co.uk", "GBP"),
        ("Amazon.de", "EUR"),
        ("Amazon.co.jp", "JPY"),
    ];
    let mut sheet = vec![vec![t("Combined Sales")], vec![], combined_sales_header()];
    for n in 0..rows {
        let (market, currency) = MARKETS[n % MARKETS.len()];
        let day = u8::try_from(n % 28 + 1).unwrap_or(1);
        let month = u8::try_from(n / 28 % 12 + 1).unwrap_or(1);
        sheet.push(combined_row(
            F::D(2026, month, day),
            &format!("B0{:08}", n / 336),
            market,
            "70%",
            "Standard",
            [3.0, 1.0, 2.0],
            [F::N(4.99), F::N(4.99)],
            F::N(6.98),
            currency,
        ));
    }
    FixtureSheet::new("Combined Sales", sheet)
}
