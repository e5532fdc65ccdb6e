//! STS over awsQuery: `GetCallerIdentity`, answering with the stack's account.

use super::errors::QueryError;
use super::params::Params;
use super::xml::query_success;
use super::Services;

/// The STS API namespace.
pub const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Answers one STS action.
pub fn handle(s: &Services, action: &str, _p: &Params, rid: &str) -> Result<Vec<u8>, QueryError> {
    let account = &s.world.stack.account_id;
    match action {
        "GetCallerIdentity" => Ok(query_success(action, NS, rid, |x| {
            x.text("UserId", account);
            x.text("Account", account);
            x.text("Arn", format!("arn:aws:iam::{account}:root"));
        })),
        other => Err(QueryError::invalid_action("sts", other)),
    }
}
