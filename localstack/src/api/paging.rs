//! Pagination of the local stack's list operations, as AWS pages them: a page holds at most
//! the caller's limit (or the stack's page size), and a token is answered while more items
//! remain. Items are sorted by a stable key ([`oldest_first`], [`newest_first`], or a
//! unique name) and a token names the last key of its page, so the next page starts right
//! after it: every item present throughout is listed exactly once, in order, even when
//! items are added or deleted between pages.
//!
//! Tokens are opaque: hex of the operation's scope (operation and what it lists, e.g. a
//! vault), the time the token was issued and the last key, with a checksum. A token that
//! does not decode, fails its checksum, or was issued for another scope is
//! [`TokenError::Garbled`]; one older than the operation's lifetime (the Tagging API's 15
//! minutes) is [`TokenError::Expired`]. Each API answers these in its own error codes.

/// Why a pagination token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this operation issued for this listing (malformed, altered, or from
    /// another operation or listing).
    #[error("the pagination token {0:?} is not one this operation issued for this listing")]
    Garbled(String),
    /// Older than the operation's token lifetime.
    #[error("the pagination token has expired (valid for {0} minutes)")]
    Expired(i64),
}

/// A listing to page: what it lists (its scope, bound into its tokens), how many items a
/// page holds, the token given, and how long its tokens live.
#[derive(Debug, Clone)]
pub struct Pager {
    /// The operation and what it lists, e.g. `ListRecoveryPointsByBackupVault/east-vault`.
    pub scope: String,
    /// Most items on a page (at least 1).
    pub limit: usize,
    /// The token the caller gave (`None` or empty: the first page).
    pub token: Option<String>,
    /// How long a token may be used after it was issued (ms); `None`: forever.
    pub lifetime_ms: Option<i64>,
}

/// One page of items and the token of the next page, if more remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The page's items, in the listing's order.
    pub items: Vec<T>,
    /// The token for the next page; `None` when this is the last.
    pub next: Option<String>,
}

impl Pager {
    /// The page of `items` (each with its sort key, unique in the listing) the token
    /// points at, at real time `now_ms`.
    pub fn page<T>(&self, mut items: Vec<(String, T)>, now_ms: i64) -> Result<Page<T>, TokenError> {
        let after = match self.token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(self.decode(t, now_ms)?),
            None => None,
        };
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rest = items
            .into_iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
            .peekable();
        let mut page = Vec::new();
        let mut last = None;
        while page.len() < self.limit.max(1) {
            let Some((k, item)) = rest.next() else { break };
            page.push(item);
            last = Some(k);
        }
        let next = match (rest.peek(), last) {
            (Some(_), Some(k)) => Some(self.encode(&k, now_ms)),
            _ => None,
        };
        Ok(Page { items: page, next })
    }

    fn encode(&self, key: &str, now_ms: i64) -> String {
        let payload = format!("{}\n{now_ms}\n{key}", self.scope);
        let mut out = hex(payload.as_bytes());
        out.push_str(&format!("{:016x}", checksum(payload.as_bytes())));
        out
    }

    /// The last key of the page the token ends.
    fn decode(&self, token: &str, now_ms: i64) -> Result<String, TokenError> {
        let garbled = || TokenError::Garbled(shorten(token));
        if token.len() < 16 || !token.is_ascii() {
            return Err(garbled());
        }
        let (body, sum) = token.split_at(token.len() - 16);
        let payload = unhex(body).ok_or_else(garbled)?;
        if u64::from_str_radix(sum, 16).ok() != Some(checksum(&payload)) {
            return Err(garbled());
        }
        let text = String::from_utf8(payload).map_err(|_| garbled())?;
        let mut parts = text.splitn(3, '\n');
        let (scope, issued, key) = (parts.next(), parts.next(), parts.next());
        let issued: i64 = issued.and_then(|i| i.parse().ok()).ok_or_else(garbled)?;
        if scope != Some(self.scope.as_str()) {
            return Err(garbled());
        }
        if let Some(life) = self.lifetime_ms {
            if now_ms - issued > life {
                return Err(TokenError::Expired(life / 60_000));
            }
        }
        key.map(str::to_string).ok_or_else(garbled)
    }
}

/// A sort key listing items oldest first (creation time, then `id` for ties).
pub fn oldest_first(created_ms: i64, id: &str) -> String {
    format!("{:020}|{id}", created_ms.max(0))
}

/// A sort key listing items newest first (creation time, then `id` for ties).
pub fn newest_first(created_ms: i64, id: &str) -> String {
    format!("{:020}|{id}", i64::MAX - created_ms.max(0))
}

/// At most 40 characters of a token, for messages.
fn shorten(token: &str) -> String {
    token.chars().take(40).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// FNV-1a (64 bits): catches a token altered by hand, not an attacker.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pager(limit: usize, token: Option<&str>) -> Pager {
        Pager {
            scope: "List/x".into(),
            limit,
            token: token.map(str::to_string),
            lifetime_ms: Some(15 * 60_000),
        }
    }

    fn items(n: usize) -> Vec<(String, usize)> {
        (0..n).rev().map(|i| (format!("k{i:03}"), i)).collect()
    }

    /// Following tokens lists every item once, in key order, and the last page has none.
    #[test]
    fn pages_cover_every_item_once_in_order() {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..10 {
            let page = pager(3, token.as_deref()).page(items(8), 0).unwrap();
            assert!(page.items.len() <= 3);
            seen.extend(page.items);
            token = page.next;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
        let exact = pager(8, None).page(items(8), 0).unwrap();
        assert_eq!((exact.items.len(), exact.next), (8, None));
    }

    /// An item added before the cursor is not listed again, nor is one after it skipped.
    #[test]
    fn pages_are_stable_under_insertion() {
        let first = pager(2, None).page(items(4), 0).unwrap();
        let mut grown = items(4);
        grown.push(("k000a".into(), 99));
        grown.push(("k005".into(), 5));
        let second = pager(10, first.next.as_deref()).page(grown, 0).unwrap();
        assert_eq!(first.items, [0, 1]);
        assert_eq!(second.items, [2, 3, 5]);
    }

    /// Tokens that are not hex, altered, from another scope or too old are refused.
    #[test]
    fn bad_tokens_are_refused() {
        let t = pager(1, None).page(items(3), 0).unwrap().next.unwrap();
        for bad in ["zz", "not-a-token-at-all-at-all", &t[..t.len() - 1]] {
            assert!(
                matches!(pager(1, Some(bad)).page(items(3), 0), Err(TokenError::Garbled(_))),
                "{bad}"
            );
        }
        let mut altered = t.clone().into_bytes();
        altered[3] = if altered[3] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(matches!(
            pager(1, Some(&altered)).page(items(3), 0),
            Err(TokenError::Garbled(_))
        ));
        let other = Pager {
            scope: "List/y".into(),
            ..pager(1, Some(&t))
        };
        assert!(matches!(other.page(items(3), 0), Err(TokenError::Garbled(_))));
        assert!(pager(1, Some(&t)).page(items(3), 15 * 60_000).is_ok());
        assert_eq!(
            pager(1, Some(&t)).page(items(3), 15 * 60_000 + 1),
            Err(TokenError::Expired(15))
        );
    }

    #[test]
    fn sort_keys_order_by_time_then_id() {
        assert!(oldest_first(5, "b") < oldest_first(10, "a"));
        assert!(oldest_first(5, "a") < oldest_first(5, "b"));
        assert!(newest_first(10, "z") < newest_first(5, "a"));
        assert!(newest_first(5, "a") < newest_first(5, "b"));
    }
}
