//! What a person or a script needs to point real clients at a running simulator: the gcloud
//! environment (api-facts §0.4: endpoint overrides, and for Cloud Run the simulator as an
//! HTTP proxy in front of a made-up regional host) and a ready estate file whose every
//! endpoint is the simulator.

use toml::{Table, Value};

use super::SimHandle;
use super::scenario::url_of;
use crate::estate::Estate;

/// The host gcloud is told Cloud Run lives on; it prefixes the region and sends the request
/// to the simulator as its proxy.
const RUN_HOST: &str = "sim.local";

impl SimHandle {
    /// The environment that makes gcloud talk to this simulator: a throwaway-config-friendly
    /// set with no prompts, no usage reporting, no update checks, no metadata probing, a fixed
    /// token, every API overridden, and the simulator as the proxy for Cloud Run's regional
    /// hosts. `project` is the default project. (Add a fresh `CLOUDSDK_CONFIG`.)
    pub fn gcloud_env(&self, project: &str) -> Vec<(String, String)> {
        let base = format!("{}/", self.base_url());
        let port = self.addr().port().to_string();
        let host = self.addr().ip().to_string();
        let mut env: Vec<(String, String)> = [
            ("CLOUDSDK_CORE_PROJECT", project),
            ("CLOUDSDK_AUTH_ACCESS_TOKEN", "sim-token"),
            ("CLOUDSDK_CORE_DISABLE_PROMPTS", "1"),
            ("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true"),
            ("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true"),
            ("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
        for api in ["SQL", "CLOUDTASKS", "REDIS", "MONITORING"] {
            env.push((
                format!("CLOUDSDK_API_ENDPOINT_OVERRIDES_{api}"),
                base.clone(),
            ));
        }
        env.push((
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN".to_string(),
            format!("http://{RUN_HOST}:{port}/"),
        ));
        env.push(("CLOUDSDK_PROXY_TYPE".to_string(), "http".to_string()));
        env.push(("CLOUDSDK_PROXY_ADDRESS".to_string(), host));
        env.push(("CLOUDSDK_PROXY_PORT".to_string(), port));
        env
    }
}

/// The estate file `source` (the text `estate` was read from) rewritten so that every
/// endpoint is the simulator: `[gcp] endpoint` and `metadata_endpoint`, the url of every
/// service the simulator serves (as `redirected`, from [`super::redirect`], has it), the
/// kubeconfig naming its API servers, and no `password_env` the simulator does not need.
pub fn ready_estate(source: &str, redirected: &Estate, sim: &SimHandle) -> Result<String, String> {
    let mut doc: Table = source
        .parse()
        .map_err(|e| format!("the estate file does not parse as TOML: {e}"))?;
    let base = sim.base_url();
    let gcp = doc
        .entry("gcp")
        .or_insert_with(|| Value::Table(Table::new()));
    if let Value::Table(gcp) = gcp {
        gcp.insert("endpoint".into(), Value::String(base.clone()));
        gcp.insert("metadata_endpoint".into(), Value::String(base.clone()));
        gcp.remove("auth");
    }
    if let Some(Value::Array(services)) = doc.get_mut("service") {
        for service in services.iter_mut().filter_map(Value::as_table_mut) {
            let id = service
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let url = redirected
                .service(&id)
                .and_then(|s| url_of(&s.target))
                .map(str::to_string);
            if let (Some(url), true) = (url, service.contains_key("url")) {
                service.insert("url".into(), Value::String(url));
            }
            // The simulator asks for no password where the variable is not set.
            if redirected
                .service(&id)
                .is_some_and(|s| s.target.password_env().is_none())
            {
                service.remove("password_env");
            }
        }
    }
    if let Some(path) = sim.kubeconfig_path() {
        doc.insert(
            "kubeconfig".into(),
            Value::String(path.display().to_string()),
        );
    }
    let body = toml::to_string_pretty(&doc).map_err(|e| format!("cannot write the estate: {e}"))?;
    Ok(format!(
        "# The estate \"{}\" pointed at the opsdeck simulator on {base}\n# (written by `opsdeck sim --write-estate`; valid while that simulator runs).\n\n{body}",
        redirected.name
    ))
}
