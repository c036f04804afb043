//! Where requests go: the global and EU hosts, pinned data centres, any base URL.

use crate::Error;

/// Where the client sends its requests.
///
/// ```
/// use fastcomments::{DataCenter, Region};
/// assert_eq!(Region::Eu.base_url(), "https://eu.fastcomments.com");
/// assert_eq!(
///     Region::DataCenter(DataCenter::Oregon).base_url(),
///     "https://gdc-oregon.fastcomments.com"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Region {
    /// `https://fastcomments.com`, routed to the nearest point of presence.
    Global,
    /// `https://eu.fastcomments.com`, for tenants whose data lives in the EU.
    Eu,
    /// One pinned data centre, for read-your-writes guarantees.
    DataCenter(DataCenter),
    /// Any base URL: the mock server, a proxy, a new host (no trailing slash needed).
    Custom(String),
}

/// FastComments' pinned data centres (`API.md`, "Hosts and regions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataCenter {
    /// `gdc-oregon`
    Oregon,
    /// `gdc-virginia`
    Virginia,
    /// `gdc-singapore`
    Singapore,
    /// `gdc-falkenstein2`
    Falkenstein2,
    /// `gdc-sao-paulo`
    SaoPaulo,
    /// `eudc-helsinki2` (EU)
    Helsinki2,
    /// `eudc-limburg` (EU)
    Limburg,
    /// `eudc-france` (EU)
    France,
}

impl DataCenter {
    /// The host name prefix, e.g. `gdc-oregon`.
    pub fn host_prefix(self) -> &'static str {
        match self {
            DataCenter::Oregon => "gdc-oregon",
            DataCenter::Virginia => "gdc-virginia",
            DataCenter::Singapore => "gdc-singapore",
            DataCenter::Falkenstein2 => "gdc-falkenstein2",
            DataCenter::SaoPaulo => "gdc-sao-paulo",
            DataCenter::Helsinki2 => "eudc-helsinki2",
            DataCenter::Limburg => "eudc-limburg",
            DataCenter::France => "eudc-france",
        }
    }

    /// The region whose data this centre holds: where a pinned client falls back to.
    pub fn region(self) -> Region {
        if self.host_prefix().starts_with("eudc-") {
            Region::Eu
        } else {
            Region::Global
        }
    }
}

impl Region {
    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        match self {
            Region::Global => "https://fastcomments.com".into(),
            Region::Eu => "https://eu.fastcomments.com".into(),
            Region::DataCenter(dc) => format!("https://{}.fastcomments.com", dc.host_prefix()),
            Region::Custom(url) => url.trim_end_matches('/').into(),
        }
    }

    /// The host tried when this one cannot be connected to, unless the builder names
    /// another: data centres are renamed and removed over time, so a pinned client falls
    /// back to its region. Regions themselves have none (falling from the EU to the
    /// global host would move data out of the EU).
    pub fn default_fallback(&self) -> Option<Region> {
        match self {
            Region::DataCenter(dc) => Some(dc.region()),
            _ => None,
        }
    }
}

impl std::str::FromStr for Region {
    type Err = Error;

    /// Parses `global`, `eu`, a data centre's host prefix (`gdc-oregon`, `eudc-limburg`,
    /// ...) or an `http(s)://` base URL, as one would put in an environment variable.
    ///
    /// ```
    /// use fastcomments::{DataCenter, Region};
    /// assert_eq!("eu".parse::<Region>().unwrap(), Region::Eu);
    /// assert_eq!("gdc-virginia".parse::<Region>().unwrap(), Region::DataCenter(DataCenter::Virginia));
    /// assert!("mars".parse::<Region>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Region, Error> {
        const CENTRES: [DataCenter; 8] = [
            DataCenter::Oregon,
            DataCenter::Virginia,
            DataCenter::Singapore,
            DataCenter::Falkenstein2,
            DataCenter::SaoPaulo,
            DataCenter::Helsinki2,
            DataCenter::Limburg,
            DataCenter::France,
        ];
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "global" | "" => Ok(Region::Global),
            "eu" => Ok(Region::Eu),
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Region::Custom(s.trim().to_string()))
            }
            name => CENTRES
                .into_iter()
                .find(|dc| dc.host_prefix() == name)
                .map(Region::DataCenter)
                .ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "unknown region {s:?}: use global, eu, a data centre such as \
                         gdc-oregon, or a base URL"
                    ))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_centres_fall_back_to_their_region() {
        assert_eq!(DataCenter::Limburg.region(), Region::Eu);
        assert_eq!(DataCenter::SaoPaulo.region(), Region::Global);
        assert_eq!(Region::Eu.default_fallback(), None);
    }
}
