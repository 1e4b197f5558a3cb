//! Authentication of the people who use the app: who a request comes from, proven by a credential
//! someone we trust issued ([`whop_token`]: the JWT Whop's iframe proxy attaches to every request
//! from an embedded app).

pub mod whop_token;
