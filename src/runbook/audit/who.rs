//! Who is acting: the operating-system user and host, and the Google account when opsdeck can
//! tell (the service account of a key file or of the metadata server). Read once per run.

use serde::{Deserialize, Serialize};

use crate::estate::{Estate, GcpAuth};

/// The person (or automation) behind a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    pub os_user: String,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub google: Option<String>,
}

impl Who {
    /// The OS user and host only.
    pub fn local() -> Who {
        let os_user = ["USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .or_else(user_from_uid)
            .unwrap_or_else(|| "unknown".to_string());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".to_string());
        Who {
            os_user,
            host,
            google: None,
        }
    }

    /// The OS user and host, and the Google account the estate's credentials act as.
    pub async fn find(estate: &Estate, http: &reqwest::Client) -> Who {
        let mut who = Who::local();
        who.google = google_account(estate, http).await;
        who
    }

    /// `user@host`, for lease holders and messages.
    pub fn short(&self) -> String {
        format!("{}@{}", self.os_user, self.host)
    }
}

/// The user name of this process's real uid, from /proc and /etc/passwd.
fn user_from_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _ = f.next();
        (f.next()? == uid).then(|| name.to_string())
    })
}

/// The Google account: `$OPSDECK_GOOGLE_ACCOUNT`, else the `client_email` of a service
/// account key file in `$GOOGLE_APPLICATION_CREDENTIALS`, else the metadata server's default
/// service account. `None` when none of them tells.
async fn google_account(estate: &Estate, http: &reqwest::Client) -> Option<String> {
    if let Ok(a) = std::env::var("OPSDECK_GOOGLE_ACCOUNT")
        && !a.is_empty()
    {
        return Some(a);
    }
    let gcp = estate.gcp.as_ref()?;
    match &gcp.auth {
        GcpAuth::None => None,
        GcpAuth::Metadata(root) => {
            let url = format!("{root}/computeMetadata/v1/instance/service-accounts/default/email");
            let answer = http
                .get(url)
                .header("Metadata-Flavor", "Google")
                .timeout(std::time::Duration::from_secs(2))
                .send()
                .await
                .ok()?;
            if !answer.status().is_success() {
                return None;
            }
            answer
                .text()
                .await
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        }
        GcpAuth::Adc => {
            let path = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS")?;
            let text = std::fs::read_to_string(path).ok()?;
            let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
            doc.get("client_email")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        }
    }
}
